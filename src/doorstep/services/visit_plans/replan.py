"""Replan during the day: finished and started stops stay; the rest is planned again from
each team's current position and time, as a new draft to publish."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import IllegalTransition
from doorstep.services.conduct import audit
from doorstep.services.visit_plans.access import open_plan
from doorstep.services.visit_plans.collect import collect
from doorstep.services.visit_plans.config import PlanConfig
from doorstep.services.visit_plans.draft import budget_of, new_draft, summary, write
from doorstep.services.visit_plans.stops import (
    AT_THE_DOOR,
    DONE,
    FIXED,
    PLANNED,
    STARTED,
    FixedStop,
    fixed_of,
)
from doorstep.store.models import Case, ContactPoint, PlanStop, Team, VisitPlan
from doorstep.store.repositories import plans as repo


def replan(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    now: datetime,
    seconds: float | None = None,
) -> VisitPlan:
    """During the day: keep finished and started stops, plan the rest from where each team
    is and when it is free, as a new draft (publish it to take effect)."""
    old = open_plan(session, actor, plan_id, None, "published")
    if now >= cfg.day_end(old.day):
        raise IllegalTransition(f"{old.day} is over", message_zh=f"{old.day} 已过去")
    rows = repo.stops(session, old.id)
    states = repo.cases_by_id(session, {s.case_id for s in rows})
    points = repo.points_by_id(session, {s.contact_point_id for s in rows if s.contact_point_id})
    fixed: list[FixedStop] = []
    starts: dict[str, list[Any]] = {}
    for team in repo.teams_of_city(session, old.city):
        done = _begun(rows, team.id, states, now)
        fixed += _kept(done, now)
        starts[str(team.id)] = _start(cfg, old.day, team, done, points, now)
    fixed_ids = {f.case_id for f in fixed}
    others = {s.case_id for s in rows if s.case_id not in fixed_ids}
    budget = budget_of(seconds, old.seconds or cfg.seconds, cfg.max_seconds)
    out = collect(
        session,
        cfg,
        old.day,
        old.city,
        also=others,
        locks={},
        starts=starts,
        fixed=fixed,
        seconds=budget,
        seed=old.seed,
    )
    extra = {"replan_of": old.id, "now": now.isoformat(), "starts": starts}
    row = new_draft(session, actor, cfg, old.city, old.day, budget, old.seed, **extra)
    write(session, cfg, row, out)
    audit.record(session, actor, "plan.replan", "visit_plan", row.id, summary(row, out))
    return row


def _begun(
    rows: Sequence[PlanStop], team_id: int, states: Mapping[int, Case], now: datetime
) -> list[PlanStop]:
    """The team's stops that have begun: started or done, its case at the door, or
    planned to start by ``now``."""
    return [
        s
        for s in rows
        if s.team_id == team_id
        and (
            s.status in FIXED
            or states[s.case_id].state in AT_THE_DOOR
            or (s.status == PLANNED and s.start_at is not None and s.start_at <= now)
        )
    ]


def _kept(done: Sequence[PlanStop], now: datetime) -> list[FixedStop]:
    """Begun stops as the new plan keeps them, numbered again in route order."""
    return [
        replace(
            fixed_of(s),
            seq=seq,
            status=DONE if s.status == DONE or (s.end_at and s.end_at <= now) else STARTED,
        )
        for seq, s in enumerate(sorted(done, key=lambda s: s.seq or 0), 1)
    ]


def _start(
    cfg: PlanConfig,
    day: date,
    team: Team,
    done: Sequence[PlanStop],
    points: Mapping[int, ContactPoint],
    now: datetime,
) -> list[Any]:
    """Where the team starts again, when, and how many visits it has left:
    ``[lat, lng, seconds since midnight, visits]``."""
    clock = max(0, cfg.seconds_of(day, now))
    last = max(done, key=lambda s: s.end_at or now, default=None)
    point = points.get(last.contact_point_id) if last and last.contact_point_id else None
    where = cfg.positions({point.id: point}).get(point.id) if point is not None else None
    if last is not None and where is not None:
        free = max(clock, cfg.seconds_of(day, last.end_at or now))
        return [where[0], where[1], free, team.max_visits - len(done)]
    return [team.base_lat, team.base_lng, clock, team.max_visits]
