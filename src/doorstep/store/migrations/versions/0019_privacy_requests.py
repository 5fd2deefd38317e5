"""privacy requests, the numbers never to contact again, the change log by key

Revision ID: 0019_privacy_requests
Revises: 0018_audit_keyed
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0019_privacy_requests"
down_revision: str | None = "0018_audit_keyed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, doorstep.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_masked", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("received_via", sa.String(length=16), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("identified_by", sa.String(length=24), nullable=True),
        sa.Column("identity_note", sa.Text(), nullable=True),
        _at("received_at"),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("holds", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("hold_lapses_on", sa.Date(), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        _at("closed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_privacy_requests_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"], ["users.id"], name=op.f("fk_privacy_requests_handled_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_privacy_requests_phone_hash"), ["phone_hash"], unique=False
        )
        batch_op.create_index("ix_privacy_requests_state_due", ["state", "due_on"], unique=False)
    op.create_table(
        "contact_suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_contact_suppressions_request_id_privacy_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_suppressions")),
        sa.UniqueConstraint("value_hash", name=op.f("uq_contact_suppressions_value_hash")),
    )
    with op.batch_alter_table("ingest_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ingest_changes_entity_key", ["entity", "entity_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_changes_entity_key")
    op.drop_table("contact_suppressions")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_state_due")
        batch_op.drop_index(batch_op.f("ix_privacy_requests_phone_hash"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_customer_id"))
    op.drop_table("privacy_requests")
