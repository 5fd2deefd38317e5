"""daily figures for the dashboard, and an index for its case counts

Revision ID: 0011_daily_figures
Revises: 0010_batch_runs
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_daily_figures"
down_revision: str | None = "0010_batch_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "book_figures",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("loans", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.BigInteger(), nullable=False),
        sa.Column("outstanding", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "city", "bucket", name=op.f("pk_book_figures")),
    )
    op.create_table(
        "roll_figures",
        sa.Column("from_as_of", sa.Date(), nullable=False),
        sa.Column("to_as_of", sa.Date(), nullable=False),
        sa.Column("from_bucket", sa.String(length=16), nullable=False),
        sa.Column("to_bucket", sa.String(length=16), nullable=False),
        sa.Column("loans", sa.Integer(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "from_as_of", "to_as_of", "from_bucket", "to_bucket", name=op.f("pk_roll_figures")
        ),
    )
    op.create_table(
        "visit_outcomes",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("cured", sa.Boolean(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("travel_m", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "customer_id", "cohort", name=op.f("pk_visit_outcomes")),
    )

    # cases by state and age for a manager's cities, read from the index alone, in order
    op.create_index(
        "ix_cases_state_opened_city", "cases", ["state", "opened_on", "city"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cases_state_opened_city", table_name="cases")
    op.drop_table("visit_outcomes")
    op.drop_table("roll_figures")
    op.drop_table("book_figures")
