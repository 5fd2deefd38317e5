"""conduct rules: case holds, rule decisions, the contact log on contact_attempts

Revision ID: 0006_conduct_rules
Revises: 0005_scoring_models
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0006_conduct_rules"
down_revision: str | None = "0005_scoring_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("started_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("lifted_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_holds_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_holds")),
    )
    with op.batch_alter_table("case_holds", schema=None) as batch_op:
        batch_op.create_index("ix_case_holds_case_active", ["case_id", "lifted_at"], unique=False)

    op.create_table(
        "rule_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("rules", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("performed", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_rule_decisions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_rule_decisions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_decisions")),
    )
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_decisions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_decisions_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("relation", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("person_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("local_day", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("connected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("performed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("decision", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("rules_fired", doorstep.store.types.JSONDocument, nullable=True)
        )
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_contact_attempts_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_contact_attempts_customer_day", ["customer_id", "local_day"], unique=False
        )

    # Existing holds become rows of case_holds, started when the case last changed.
    op.execute(
        "INSERT INTO case_holds (case_id, type, started_at, started_by, note) "
        "SELECT id, hold_reason, updated_at, 'migration', 'hold recorded before case_holds' "
        "FROM cases WHERE hold_reason IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_attempts_customer_day")
        batch_op.drop_index(batch_op.f("ix_contact_attempts_customer_id"))
        for column in (
            "override_reason", "rules_fired", "decision", "performed", "connected",
            "local_day", "person_zone", "relation", "customer_id",
        ):  # fmt: skip
            batch_op.drop_column(column)
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_decisions_case_id"))
        batch_op.drop_index(batch_op.f("ix_rule_decisions_at"))
    op.drop_table("rule_decisions")
    with op.batch_alter_table("case_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_case_holds_case_active")
    op.drop_table("case_holds")
