"""reveal controls: each person's reveal counts, and bulk reveal requests

Revision ID: 0021_reveal_controls
Revises: 0020_sessions_tokens
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0021_reveal_controls"
down_revision: str | None = "0020_sessions_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = doorstep.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reveal_counters",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("day_count", sa.Integer(), nullable=False),
        sa.Column("window_no", sa.BigInteger(), nullable=False),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reveal_counters_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_reveal_counters")),
    )
    op.create_table(
        "reveal_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_ids", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("cities", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("approved_until", UTC_TIME, nullable=True),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_reveal_requests_requester_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_reveal_requests_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reveal_requests")),
    )
    op.create_index(
        op.f("ix_reveal_requests_requester_id"), "reveal_requests", ["requester_id"], unique=False
    )
    op.create_index(
        "ix_reveal_requests_status", "reveal_requests", ["status", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_reveal_requests_status", table_name="reveal_requests")
    op.drop_index(op.f("ix_reveal_requests_requester_id"), table_name="reveal_requests")
    op.drop_table("reveal_requests")
    op.drop_table("reveal_counters")
