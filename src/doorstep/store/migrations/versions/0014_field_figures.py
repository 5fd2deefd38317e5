"""daily field and outcome figures for the dashboard; one index for the cases-by-state query

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
        "outcome_figures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("cured", sa.Integer(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("travel_m", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "city", "cohort"),
    )
    # the outcomes already judged, summed as the batch now does every day
    op.execute(
        "INSERT INTO outcome_figures (day, city, cohort, customers, cured, recovered, visits,"
        " travel_m) SELECT day, city, cohort, count(*),"
        " sum(CASE WHEN cured THEN 1 ELSE 0 END), sum(recovered), sum(visits), sum(travel_m)"
        " FROM visit_outcomes GROUP BY day, city, cohort"
    )
    op.create_table(
        "field_figure_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    # (state, opened_on, city) from 0011 covers the cases-by-state query with and
    # without a city filter (SQLite groups along it without sorting; without it SQLite
    # picked a non-covering index and took 15 times longer); this twin only cost writes
    op.drop_index("ix_cases_city_state_opened", table_name="cases")


def downgrade() -> None:
    op.create_index(
        "ix_cases_city_state_opened", "cases", ["city", "state", "opened_on"], unique=False
    )
    op.drop_table("field_figure_days")
    op.drop_table("outcome_figures")
    op.drop_table("field_figures")
