"""Publish a draft: its cases go ready -> scheduled, each team gets a live `Assignment`
for its cases until the end of the day, and a new publication of the same city and day
supersedes the old one (revoking its assignments and unscheduling the cases it dropped)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import Caller, CaseState
from doorstep.domain.errors import Conflict, IllegalTransition
from doorstep.services import cases
from doorstep.services.conduct import audit
from doorstep.services.people import teams
from doorstep.services.visit_plans.access import open_plan, touch
from doorstep.services.visit_plans.config import PlanConfig
from doorstep.services.visit_plans.stops import PLANNED
from doorstep.store.models import Assignment, PlanStop, VisitPlan
from doorstep.store.repositories import plans as repo


def publish(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    now: datetime,
) -> VisitPlan:
    """Publish a draft: schedule its cases, give each team its cases for the day, and
    supersede the city's earlier publication of the day (unscheduling what it dropped)."""
    row = open_plan(session, actor, plan_id, version, "draft")
    day_end = cfg.day_end(row.day)
    if now >= day_end:
        raise IllegalTransition(
            f"{row.day} is over: plan a coming day",
            message_zh=f"{row.day} 已过去，请安排之后的日期",
        )
    new_stops = [s for s in repo.stops(session, row.id) if s.team_id is not None]
    old = repo.published_plan(session, row.city, row.day)
    live = _supersede(session, actor, old, row, new_stops, now, day_end) if old else []
    kept = {(a.case_id, a.team_id) for a in live if a.revoked_at is None}
    _schedule(session, actor, row, new_stops, kept, now, day_end)
    row.state, row.published_at, row.published_by = "published", now, actor.user_id
    touch(session, row)
    audit.record(
        session,
        actor,
        "plan.publish",
        "visit_plan",
        row.id,
        {
            "city": row.city,
            "day": row.day.isoformat(),
            "supersedes": old.id if old else None,
            "stops": len(new_stops),
        },
    )
    return row


def _supersede(
    session: Session,
    actor: Actor,
    old: VisitPlan,
    row: VisitPlan,
    new_stops: Sequence[PlanStop],
    now: datetime,
    day_end: datetime,
) -> list[Assignment]:
    """Retire the published ``old`` plan for ``row``: revoke the assignments ``row`` does
    not repeat, unschedule the cases it drops. Returns the old plan's live assignments."""
    routed = {(s.case_id, s.team_id) for s in new_stops if s.team_id is not None}
    old_stops = [s for s in repo.stops(session, old.id) if s.team_id is not None]
    old_pairs = {(s.case_id, s.team_id) for s in old_stops if s.team_id is not None}
    live = repo.live_plan_assignments(session, old_pairs, day_end)
    for assignment in live:
        if (assignment.case_id, assignment.team_id) not in routed:
            assignment.revoked_at = now
            audit.record(
                session,
                actor,
                "case.unassign",
                "case",
                assignment.case_id,
                {"team_id": assignment.team_id, "plan_id": old.id},
            )
    dropped = {s.case_id for s in old_stops} - {s.case_id for s in new_stops}
    for case in repo.cases_by_id(session, dropped).values():
        if case.state == CaseState.SCHEDULED.value:
            move_case(session, actor, case.id, "unschedule", f"not in plan {row.id}")
    old.state = "superseded"
    touch(session, old)
    return live


def _schedule(
    session: Session,
    actor: Actor,
    row: VisitPlan,
    new_stops: Sequence[PlanStop],
    kept: Collection[tuple[int, int]],
    now: datetime,
    day_end: datetime,
) -> None:
    """Schedule the plan's ready cases and assign each to its team (unless the old plan's
    assignment is ``kept``); a case that changed since the plan was made is a Conflict."""
    states = repo.cases_by_id(session, {s.case_id for s in new_stops})
    for stop in new_stops:
        assert stop.team_id is not None
        case = states[stop.case_id]
        if stop.status == PLANNED:
            if case.state == CaseState.READY.value and case.hold_reason is None:
                move_case(session, actor, case.id, "schedule", f"plan {row.id}")
            elif case.state != CaseState.SCHEDULED.value or case.hold_reason is not None:
                raise Conflict(
                    f"case {case.id} is {case.state}"
                    f"{' on hold' if case.hold_reason else ''} since the plan was made: "
                    "re-optimise first",
                    message_zh=f"案件 {case.id} 在计划后状态已变化，请先重新优化",
                )
        if (stop.case_id, stop.team_id) not in kept:
            teams.assign(session, actor, stop.case_id, stop.team_id, now, day_end)


def move_case(
    session: Session,
    actor: Actor,
    case_id: int,
    action: Literal["schedule", "unschedule"],
    reason: str,
) -> None:
    """The one place where visit plans change a case's state: through the cases package's
    one writer, as the planner (publishing schedules a plan's cases, superseding
    unschedules dropped ones)."""
    case = cases.get_case(session, actor, case_id)
    cases.apply(session, actor, case, action, by=Caller.PLANNER, reason=reason)
