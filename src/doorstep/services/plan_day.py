"""Plan one city's day from the cases that are ready: who visits whom, in what order.

Until teams have a home base and borrowers state their availability (later issues), a
team starts and ends at the centre of the day's visits, a work address is visited in
working hours and any other address inside the allowed hours (08:00–22:00). A visit's
value is its case priority scaled to 1..1000 within the day, so the planner drops the
least valuable visits when teams are short.
The plan is checked independently before it is returned; nothing is saved yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import CaseState
from doorstep.domain.errors import DoorstepError
from doorstep.planning import Location, Plan, PlanRequest, Team, TimeWindow, Visit, build, check
from doorstep.services.cases import Forbidden
from doorstep.services.contacts import best, ranked
from doorstep.store.models import Case
from doorstep.store.models import Team as TeamRow

HOUR = 3600
WORKING_HOURS = TimeWindow(9 * HOUR, 18 * HOUR)
SHIFT = (8 * HOUR, 21 * HOUR)


@dataclass(frozen=True)
class DayPlan:
    request: PlanRequest
    plan: Plan
    unlocated: list[int]  # ready cases without a usable address with coordinates


def plan_city_day(
    session: Session,
    actor: Actor,
    day: date,
    city: str,
    *,
    seconds: float = 10.0,
    seed: int = 0,
    visits_per_team: int = 6,
) -> DayPlan:
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot plan visits", message_zh="您的角色无权安排外访")
    teams = session.scalars(select(TeamRow).where(TeamRow.city == city).order_by(TeamRow.id)).all()
    if not teams:
        raise DoorstepError(f"no verifier team in {city}", message_zh=f"{city} 没有外访小组")
    cases = session.scalars(
        select(Case)
        .where(Case.state == CaseState.READY.value, Case.city == city, Case.hold_reason.is_(None))
        .order_by(Case.priority.desc())
    ).all()
    visits, unlocated = [], []
    top = max((c.priority for c in cases), default=1) or 1
    for case in cases:
        address = best(ranked(session, case.customer_id), "address")
        if address is None or address.point.lat is None or address.point.lng is None:
            unlocated.append(case.id)
            continue
        windows = (WORKING_HOURS,) if address.point.kind == "work" else ()
        visits.append(
            Visit(
                str(case.id),
                Location(address.point.lat, address.point.lng),
                windows=windows,
                value=max(1, 1000 * case.priority // top),
            )
        )
    if visits:
        centre = Location(
            sum(v.location.lat for v in visits) / len(visits),
            sum(v.location.lng for v in visits) / len(visits),
        )
    else:
        raise DoorstepError(
            f"no ready case with a located address in {city}",
            message_zh=f"{city} 没有可定位的待外访案件",
        )
    request = PlanRequest(
        day,
        tuple(Team(str(t.id), centre, centre, SHIFT[0], SHIFT[1], visits_per_team) for t in teams),
        tuple(visits),
    )
    from doorstep.planning.solver import solve  # loads PyVRP only when planning

    plan = solve(build(request), seconds=seconds, seed=seed)
    check(plan, request)  # an infeasible plan is an error, never a result
    return DayPlan(request, plan, unlocated)
