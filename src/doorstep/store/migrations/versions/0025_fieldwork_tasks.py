"""fieldwork tasks: case tasks (skip-trace sources, next steps, promise follow-ups)

Revision ID: 0025_fieldwork_tasks
Revises: 0024_identity_checks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0025_fieldwork_tasks"
down_revision: str | None = "0024_identity_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = doorstep.store.types.UTCDateTime(timezone=True)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=True),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("escalated_at", UTC_TIME, nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_tasks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.id"], name=op.f("fk_case_tasks_verdict_id_verdicts")
        ),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promises_to_pay.id"],
            name=op.f("fk_case_tasks_promise_id_promises_to_pay"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_case_tasks_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_case_tasks_closed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tasks")),
    )
    with op.batch_alter_table("case_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_tasks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_tasks_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_case_tasks_state_due", ["state", "due_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_case_tasks_state_due")
        batch_op.drop_index(batch_op.f("ix_case_tasks_owner_id"))
        batch_op.drop_index(batch_op.f("ix_case_tasks_case_id"))
    op.drop_table("case_tasks")
