"""daily field figures for the dashboard; one index for the cases-by-state query

Revision ID: 0014_field_figures
Revises: 0013_scale_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_field_figures"
down_revision: str | None = "0013_scale_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "field_figures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("leaning", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("address_valid", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "city", "team", "leaning", "reason"),
    )
    op.create_table(
        "field_figure_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    # (city, state, opened_on) from 0013 serves the cases-by-state query with and
    # without a city filter; this older twin only cost writes
    op.drop_index("ix_cases_state_opened_city", table_name="cases")


def downgrade() -> None:
    op.create_index(
        "ix_cases_state_opened_city", "cases", ["state", "opened_on", "city"], unique=False
    )
    op.drop_table("field_figure_days")
    op.drop_table("field_figures")
