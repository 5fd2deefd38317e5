"""Queries about visit plans: a plan, its routes and stops, what a plan is made from."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from doorstep.domain.case import CaseState
from doorstep.store.models import (
    Assignment,
    Case,
    ContactPoint,
    PlanRoute,
    PlanStop,
    Team,
    TeamMember,
    VisitPlan,
    VisitSlot,
)
from doorstep.store.models.base import utcnow


def get_plan(session: Session, plan_id: int) -> VisitPlan | None:
    return session.get(VisitPlan, plan_id)


def plans_of_day(session: Session, city: str, day: date) -> list[VisitPlan]:
    """Every plan of a city's day, newest first."""
    return list(
        session.scalars(
            select(VisitPlan)
            .where(VisitPlan.city == city, VisitPlan.day == day)
            .order_by(VisitPlan.id.desc())
        )
    )


_STANDING = ("draft", "published")
"""States of a plan that stands for its city's day (a superseded one no longer does)."""


def plan_for(session: Session, city: str, day: date) -> VisitPlan | None:
    """The city's standing plan of ``day`` (draft or published), the newest if several:
    is there a plan for this city and day?"""
    return session.scalar(
        select(VisitPlan)
        .where(VisitPlan.city == city, VisitPlan.day == day, VisitPlan.state.in_(_STANDING))
        .order_by(VisitPlan.id.desc())
        .limit(1)
    )


def cities_planned(session: Session, day: date) -> set[str]:
    """The cities with a standing plan of ``day`` (`plan_for` for every city at once)."""
    return set(
        session.scalars(
            select(VisitPlan.city).where(VisitPlan.day == day, VisitPlan.state.in_(_STANDING))
        )
    )


def save_plan(session: Session, plan: VisitPlan) -> None:
    """Write the plan row now, bumping its version even when nothing else changed; a
    writer whose version is stale gets `StaleDataError`. (``updated_at`` is the store's
    clock, as for every row's timestamps.)"""
    plan.updated_at = utcnow()
    session.flush()


def published_plan(session: Session, city: str, day: date) -> VisitPlan | None:
    return session.scalar(
        select(VisitPlan).where(
            VisitPlan.city == city, VisitPlan.day == day, VisitPlan.state == "published"
        )
    )


def recent_plans(
    session: Session, cities: Collection[str] | None, limit: int = 20
) -> list[VisitPlan]:
    statement = select(VisitPlan).order_by(VisitPlan.day.desc(), VisitPlan.id.desc()).limit(limit)
    if cities is not None:
        statement = statement.where(VisitPlan.city.in_(cities))
    return list(session.scalars(statement))


def stops(session: Session, plan_id: int) -> list[PlanStop]:
    """A plan's stops: routed ones by team and route order, then the dropped ones."""
    rows = session.scalars(select(PlanStop).where(PlanStop.plan_id == plan_id)).all()
    return sorted(rows, key=lambda s: (s.team_id is None, s.team_id or 0, s.seq or 0, s.case_id))


def routes(session: Session, plan_id: int) -> list[PlanRoute]:
    return list(
        session.scalars(
            select(PlanRoute).where(PlanRoute.plan_id == plan_id).order_by(PlanRoute.team_id)
        )
    )


def clear_plan(session: Session, plan_id: int) -> None:
    """Remove a plan's routes and stops (before writing the re-optimised ones)."""
    session.execute(delete(PlanStop).where(PlanStop.plan_id == plan_id))
    session.execute(delete(PlanRoute).where(PlanRoute.plan_id == plan_id))


def team_stops(session: Session, team_id: int, day: date) -> list[PlanStop]:
    """A team's stops in the published plan of ``day``, in route order (the day page)."""
    return list(
        session.scalars(
            select(PlanStop)
            .join(VisitPlan, VisitPlan.id == PlanStop.plan_id)
            .where(
                VisitPlan.day == day,
                VisitPlan.state == "published",
                PlanStop.team_id == team_id,
            )
            .order_by(PlanStop.seq)
        )
    )


def all_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.id)))


def team_sizes(session: Session, team_ids: Collection[int]) -> dict[int, int]:
    """Members per team."""
    if not team_ids:
        return {}
    rows = session.execute(
        select(TeamMember.team_id, func.count())
        .where(TeamMember.team_id.in_(list(team_ids)))
        .group_by(TeamMember.team_id)
    ).all()
    return {team: int(n) for team, n in rows}


def teams_of_city(session: Session, city: str) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.city == city).order_by(Team.id)))


def plannable_cases(session: Session, city: str, also: Collection[int] | None = None) -> list[Case]:
    """Cases that may get a visit: ready ones of the city, and the scheduled ones named in
    ``also`` (planned again); never one on hold. Highest priority first."""
    may = Case.state == CaseState.READY.value
    if also:
        may = or_(may, and_(Case.state == CaseState.SCHEDULED.value, Case.id.in_(list(also))))
    return list(
        session.scalars(
            select(Case)
            .where(Case.city == city, _plannable(may))
            .order_by(Case.priority.desc(), Case.id)
        )
    )


def _plannable(state: ColumnElement[bool]) -> ColumnElement[bool]:
    """A case the planner may take: in the given state, and not on hold."""
    return and_(Case.hold_reason.is_(None), state)


def cities_with_ready_cases(session: Session, cities: Collection[str]) -> set[str]:
    """Those of `cities` with a case `plannable_cases` would give (one query for all)."""
    if not cities:
        return set()
    return set(
        session.scalars(
            select(Case.city)
            .where(Case.city.in_(list(cities)), _plannable(Case.state == CaseState.READY.value))
            .distinct()
        )
    )


def cases_by_id(session: Session, case_ids: Collection[int]) -> dict[int, Case]:
    if not case_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(list(case_ids))))}


def points_by_id(session: Session, point_ids: Collection[int]) -> dict[int, ContactPoint]:
    if not point_ids:
        return {}
    rows = session.scalars(select(ContactPoint).where(ContactPoint.id.in_(list(point_ids))))
    return {p.id: p for p in rows}


def live_slots(session: Session, customer_ids: Collection[str], day: date) -> dict[str, VisitSlot]:
    """The borrower-booked visit slot of each customer on ``day`` (at most one is live)."""
    if not customer_ids:
        return {}
    rows = session.scalars(
        select(VisitSlot)
        .where(
            VisitSlot.customer_id.in_(list(customer_ids)),
            VisitSlot.day == day,
            VisitSlot.cancelled_at.is_(None),
        )
        .order_by(VisitSlot.created_at)
    )
    return {slot.customer_id: slot for slot in rows}  # the latest booking wins


def live_plan_assignments(
    session: Session, pairs: Collection[tuple[int, int]], ends_at: datetime
) -> list[Assignment]:
    """Unrevoked assignments of (case, team) pairs ending at ``ends_at`` (a plan's day end)."""
    if not pairs:
        return []
    case_ids = {case for case, _ in pairs}
    rows = session.scalars(
        select(Assignment).where(
            Assignment.case_id.in_(list(case_ids)),
            Assignment.revoked_at.is_(None),
            Assignment.ends_at == ends_at,
        )
    )
    wanted = set(pairs)
    return [a for a in rows if (a.case_id, a.team_id) in wanted]
