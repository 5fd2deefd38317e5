"""Visit plans: one city's day, routes per team, ordered stops (DESIGN §2 "Visit plan").

A plan is made as a `draft` (re-optimised and edited freely), then `published`: its
cases move to `scheduled` and each team's stops are what the verifiers' day page shows.
Publishing a new plan for the same city and day `supersedes` the old one. Dropped
visits are kept as stops without a team, with the reason, so the manager sees them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped
from doorstep.store.types import JSONDocument, UTCDateTime


class VisitPlan(Timestamped, Base):
    __tablename__ = "visit_plans"
    __table_args__ = (Index("ix_visit_plans_city_day_state", "city", "day", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # draft | published | superseded
    seconds: Mapped[int] = mapped_column(Integer)  # solver budget
    seed: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[int] = mapped_column(BigInteger)  # the solver's objective (integer units)
    distance_m: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[dict[str, object] | None] = mapped_column(JSONDocument)  # how it was made
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Two managers editing one plan: the second write fails instead of overwriting.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PlanRoute(Base):
    """One team's day in a plan."""

    __tablename__ = "plan_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plans.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    depart_at: Mapped[datetime] = mapped_column(UTCDateTime)
    return_at: Mapped[datetime] = mapped_column(UTCDateTime)
    distance_m: Mapped[int] = mapped_column(Integer)
    drive_seconds: Mapped[int] = mapped_column(Integer)
    service_seconds: Mapped[int] = mapped_column(Integer)
    wait_seconds: Mapped[int] = mapped_column(Integer, default=0)


class PlanStop(Base):
    """A visit in a plan: routed (team, seq, times) or dropped (no team, a reason)."""

    __tablename__ = "plan_stops"
    __table_args__ = (Index("ix_plan_stops_team_plan", "team_id", "plan_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plans.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_points.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    seq: Mapped[int | None] = mapped_column(Integer)  # 1.. in route order
    arrive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    travel_m: Mapped[int] = mapped_column(Integer, default=0)  # from the previous stop
    travel_seconds: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # kept on its team by replan
    # planned | dropped | started | done | cancelled
    status: Mapped[str] = mapped_column(String(16))
    drop_reason: Mapped[str | None] = mapped_column(String(32))
