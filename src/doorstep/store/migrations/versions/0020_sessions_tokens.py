"""security: server-side web sessions, API token scopes and expiry, atomic throttles

Staff sessions move from a signed cookie to `user_sessions` (the cookie keeps a random id,
the table its hash). API tokens get scopes, an expiry and the time of their last use:
tokens issued before this revision get every scope (what they could do before, so no
integration breaks on upgrade) and expire 90 days after the upgrade runs. The failed
sign-in rows (`login_failures`, `portal_failures`), counted by reading them before
writing, give way to one counter row per key in `throttles`.

Revision ID: 0020_sessions_tokens
Revises: 0019_privacy_requests
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0020_sessions_tokens"
down_revision: str | None = "0019_privacy_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_TOKEN_SCOPES = "feedback,read,write"
EXISTING_TOKEN_LIFETIME = timedelta(days=90)
UTC_TIME = doorstep.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_at", UTC_TIME, nullable=False),
        sa.Column("locked_until", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttles")),
    )
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttles_last_at"), ["last_at"], unique=False)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("expires_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("last_used_at", UTC_TIME, nullable=True))
    tokens = sa.table(
        "api_tokens", sa.column("scopes", sa.String()), sa.column("expires_at", UTC_TIME)
    )
    op.execute(
        tokens.update().values(
            scopes=EXISTING_TOKEN_SCOPES,
            expires_at=datetime.now(UTC) + EXISTING_TOKEN_LIFETIME,
        )
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("expires_at", existing_type=UTC_TIME, nullable=False)

    _drop_failures()


def _drop_failures() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_username"))
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_address"))
    op.drop_table("login_failures")
    with op.batch_alter_table("portal_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_failures_address"))
    op.drop_table("portal_failures")


def _restore_failures() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_username"), ["username"], unique=False)
    op.create_table(
        "portal_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_failures")),
    )
    with op.batch_alter_table("portal_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_failures_address"), ["address"], unique=False)


def downgrade() -> None:
    _restore_failures()
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scopes")
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttles_last_at"))
    op.drop_table("throttles")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
