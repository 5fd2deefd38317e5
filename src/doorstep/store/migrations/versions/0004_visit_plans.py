"""visit plans

Revision ID: 0004_visit_plans
Revises: 6679823a8460
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0004_visit_plans"
down_revision: str | None = "6679823a8460"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.BigInteger(), nullable=False),
        sa.Column("settings", doorstep.store.types.JSONDocument, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("published_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_visit_plans_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["published_by"], ["users.id"], name=op.f("fk_visit_plans_published_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_plans")),
    )
    op.create_index(
        "ix_visit_plans_city_day_state", "visit_plans", ["city", "day", "state"], unique=False
    )
    op.create_table(
        "plan_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("depart_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("return_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("drive_seconds", sa.Integer(), nullable=False),
        sa.Column("service_seconds", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["visit_plans.id"], name=op.f("fk_plan_routes_plan_id_visit_plans")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_plan_routes_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_routes")),
    )
    op.create_index(op.f("ix_plan_routes_plan_id"), "plan_routes", ["plan_id"], unique=False)
    op.create_index(op.f("ix_plan_routes_team_id"), "plan_routes", ["team_id"], unique=False)
    op.create_table(
        "plan_stops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("arrive_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("start_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_start", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_end", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("travel_m", sa.Integer(), nullable=False),
        sa.Column("travel_seconds", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("drop_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_plan_stops_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_points.id"],
            name=op.f("fk_plan_stops_contact_point_id_contact_points"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["visit_plans.id"], name=op.f("fk_plan_stops_plan_id_visit_plans")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_plan_stops_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_stops")),
    )
    op.create_index(op.f("ix_plan_stops_case_id"), "plan_stops", ["case_id"], unique=False)
    op.create_index(op.f("ix_plan_stops_plan_id"), "plan_stops", ["plan_id"], unique=False)
    op.create_index(
        "ix_plan_stops_team_plan", "plan_stops", ["team_id", "plan_id", "seq"], unique=False
    )
    op.add_column("teams", sa.Column("base_lat", sa.Float(), nullable=True))
    op.add_column("teams", sa.Column("base_lng", sa.Float(), nullable=True))
    op.add_column(
        "teams", sa.Column("shift_start_minute", sa.Integer(), nullable=False, server_default="480")
    )
    op.add_column(
        "teams", sa.Column("shift_end_minute", sa.Integer(), nullable=False, server_default="1260")
    )
    op.add_column(
        "teams", sa.Column("max_visits", sa.Integer(), nullable=False, server_default="6")
    )
    op.add_column("teams", sa.Column("skills", doorstep.store.types.JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch_op:  # SQLite drops columns by copying
        for column in ("skills", "max_visits", "shift_end_minute", "shift_start_minute"):
            batch_op.drop_column(column)
        batch_op.drop_column("base_lng")
        batch_op.drop_column("base_lat")
    op.drop_index("ix_plan_stops_team_plan", table_name="plan_stops")
    op.drop_index(op.f("ix_plan_stops_plan_id"), table_name="plan_stops")
    op.drop_index(op.f("ix_plan_stops_case_id"), table_name="plan_stops")
    op.drop_table("plan_stops")
    op.drop_index(op.f("ix_plan_routes_team_id"), table_name="plan_routes")
    op.drop_index(op.f("ix_plan_routes_plan_id"), table_name="plan_routes")
    op.drop_table("plan_routes")
    op.drop_index("ix_visit_plans_city_day_state", table_name="visit_plans")
    op.drop_table("visit_plans")
