"""visits

Revision ID: 0007_visits
Revises: 0006_conduct_rules
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0007_visits"
down_revision: str | None = "0006_conduct_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("plan_stop_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("verifier_ids", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("checked_in_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "device_checked_in_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("checked_out_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "device_checked_out_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("out_lat", sa.Float(), nullable=True),
        sa.Column("out_lng", sa.Float(), nullable=True),
        sa.Column("flags", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("met", sa.String(length=16), nullable=True),
        sa.Column("interview", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("submitted_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("created_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_visits_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["plan_stop_id"], ["plan_stops.id"], name=op.f("fk_visits_plan_stop_id_plan_stops")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_visits_submitted_by_users")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_visits_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_visits_idempotency_key")),
    )
    op.create_index(op.f("ix_visits_case_id"), "visits", ["case_id"], unique=False)
    op.create_index(
        "ix_visits_team_checked_in", "visits", ["team_id", "checked_in_at"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("detail", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("resolved_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_alerts_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["raised_by"], ["users.id"], name=op.f("fk_alerts_raised_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_alerts_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_alerts_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_alerts_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_case_id"), "alerts", ["case_id"], unique=False)
    op.create_index("ix_alerts_open", "alerts", ["resolved_at", "raised_at"], unique=False)
    op.create_table(
        "promises_to_pay",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("judged_on", sa.Date(), nullable=True),
        sa.Column("created_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_promises_to_pay_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_promises_to_pay_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_promises_to_pay_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises_to_pay")),
    )
    op.create_index("ix_promises_status_due", "promises_to_pay", ["status", "due_on"], unique=False)
    op.create_index(
        op.f("ix_promises_to_pay_case_id"), "promises_to_pay", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_promises_to_pay_customer_id"), "promises_to_pay", ["customer_id"], unique=False
    )
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("address_status", sa.String(length=16), nullable=False),
        sa.Column("primary_reason", sa.String(length=32), nullable=True),
        sa.Column("reasons", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("hardship_or_evasion", sa.String(length=16), nullable=False),
        sa.Column("advice", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("ability_per_month", sa.BigInteger(), nullable=True),
        sa.Column("willingness", sa.Integer(), nullable=True),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("next_step", sa.String(length=32), nullable=False),
        sa.Column("next_step_rule", sa.String(length=64), nullable=True),
        sa.Column("override_step", sa.String(length=32), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_verdicts_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_verdicts_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_verdicts_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_verdicts_visit_id")),
    )
    op.create_index(op.f("ix_verdicts_case_id"), "verdicts", ["case_id"], unique=False)
    op.create_table(
        "visit_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("exif_lng", sa.Float(), nullable=True),
        sa.Column("exif_taken_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uploaded_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_visit_evidence_uploaded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_evidence_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_evidence")),
    )
    op.create_index(op.f("ix_visit_evidence_sha256"), "visit_evidence", ["sha256"], unique=False)
    op.create_index(
        op.f("ix_visit_evidence_visit_id"), "visit_evidence", ["visit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_visit_evidence_visit_id"), table_name="visit_evidence")
    op.drop_index(op.f("ix_visit_evidence_sha256"), table_name="visit_evidence")
    op.drop_table("visit_evidence")
    op.drop_index(op.f("ix_verdicts_case_id"), table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_index(op.f("ix_promises_to_pay_customer_id"), table_name="promises_to_pay")
    op.drop_index(op.f("ix_promises_to_pay_case_id"), table_name="promises_to_pay")
    op.drop_index("ix_promises_status_due", table_name="promises_to_pay")
    op.drop_table("promises_to_pay")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_index(op.f("ix_alerts_case_id"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_visits_team_checked_in", table_name="visits")
    op.drop_index(op.f("ix_visits_case_id"), table_name="visits")
    op.drop_table("visits")
