"""daily batch runs and steps

Revision ID: 0010_batch_runs
Revises: 0009_outbox
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0010_batch_runs"
down_revision: str | None = "0009_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_runs")),
        sa.UniqueConstraint("as_of", name=op.f("uq_batch_runs_as_of")),
    )
    op.create_table(
        "batch_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counts", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["batch_runs.id"], name=op.f("fk_batch_steps_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_steps")),
        sa.UniqueConstraint("run_id", "name", name=op.f("uq_batch_steps_run_id")),
    )
    op.create_index(op.f("ix_batch_steps_run_id"), "batch_steps", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_steps_run_id"), table_name="batch_steps")
    op.drop_table("batch_steps")
    op.drop_table("batch_runs")
