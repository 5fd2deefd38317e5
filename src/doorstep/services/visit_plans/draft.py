"""Plan a city's day and keep it as a draft: the request is collected and solved
(collect.py), and the checked plan written as the draft's routes and stops.

An infeasible plan raises `PlanInfeasible` before anything is written."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import InvalidValue
from doorstep.planning import Location, Route, Visit
from doorstep.planning.model import clamp_windows
from doorstep.services.conduct import audit
from doorstep.services.visit_plans.access import require, touch
from doorstep.services.visit_plans.collect import Outcome, collect
from doorstep.services.visit_plans.config import COSTS, PlanConfig
from doorstep.services.visit_plans.stops import DROPPED, PLANNED
from doorstep.store.models import PlanRoute, PlanStop, VisitPlan
from doorstep.store.repositories import plans as repo


def run_plan(
    session: Session,
    actor: Actor,
    day: date,
    city: str,
    cfg: PlanConfig,
    *,
    seconds: float | None = None,
    seed: int = 0,
) -> VisitPlan:
    """Plan the city's day from its ready cases and save it as a draft."""
    require(actor, city)
    budget = budget_of(seconds, cfg.seconds, cfg.max_seconds)
    out = collect(
        session,
        cfg,
        day,
        city,
        also=None,
        locks={},
        starts={},
        fixed=(),
        seconds=budget,
        seed=seed,
    )
    if not out.request.visits and not out.early_drops:
        raise InvalidValue(
            f"no ready case in {city} to plan", message_zh=f"{city} 没有待外访的案件"
        )
    row = new_draft(session, actor, cfg, city, day, budget, seed)
    write(session, cfg, row, out)
    audit.record(session, actor, "plan.run", "visit_plan", row.id, summary(row, out))
    return row


@dataclass(frozen=True)
class DayPlan:
    """A saved draft and what it was made from (for printing)."""

    plan: VisitPlan
    stops: list[PlanStop]
    routes: list[PlanRoute]


def plan_city_day(
    session: Session,
    actor: Actor,
    day: date,
    city: str,
    cfg: PlanConfig,
    *,
    seconds: float | None = None,
    seed: int = 0,
) -> DayPlan:
    """The command line's one-shot plan: `run_plan`, with its stops and routes."""
    row = run_plan(session, actor, day, city, cfg, seconds=seconds, seed=seed)
    return DayPlan(row, repo.stops(session, row.id), repo.routes(session, row.id))


def new_draft(
    session: Session,
    actor: Actor,
    cfg: PlanConfig,
    city: str,
    day: date,
    budget: float,
    seed: int,
    **settings: Any,
) -> VisitPlan:
    """An empty draft row (its routes and stops come from `write`)."""
    row = VisitPlan(
        city=city,
        day=day,
        state="draft",
        seconds=math.ceil(budget),
        seed=seed,
        cost=0,
        distance_m=0,
        settings=_settings_of(cfg, **settings),
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


def budget_of(seconds: float | None, default: float, limit: float) -> float:
    """The solver's time budget: the ``seconds`` asked for, in (0, limit] (the setting
    `plan_max_seconds`, named in the refusal); else ``default``, cut to the limit (an older
    plan may have been made under a higher one)."""
    if seconds is None:
        return min(default, limit)
    if not (math.isfinite(seconds) and 0 < seconds <= limit):
        raise InvalidValue(
            f"seconds: {seconds:g} s is not allowed; a plan may ask for more than 0 and at "
            f"most {limit:g} s of solver time",
            message_zh=f"seconds：不允许 {seconds:g} 秒；求解时间须大于 0 且不超过 {limit:g} 秒",
        )
    return seconds


def _settings_of(cfg: PlanConfig, **extra: Any) -> dict[str, object]:
    return {
        "allowed": [cfg.allowed.start, cfg.allowed.end],
        "working": [cfg.working.start, cfg.working.end],
        "service_minutes": dict(cfg.service_minutes),
        "travel": type(cfg.travel).__name__,
        **extra,
    }


def summary(row: VisitPlan, out: Outcome) -> dict[str, Any]:
    """The audit record of a plan made."""
    return {
        "city": row.city,
        "day": row.day.isoformat(),
        "routes": len(out.plan.routes),
        "planned": len(out.plan.planned_ids),
        "dropped": len(out.plan.dropped) + len(out.early_drops),
        "distance_m": out.plan.distance_m,
    }


# --- writing ----------------------------------------------------------------------------


def write(session: Session, cfg: PlanConfig, row: VisitPlan, out: Outcome) -> None:
    """Replace the plan's routes and stops by ``out``: kept stops first, then each route's
    stops after them, then the dropped visits; the plan's cost and distance with them."""
    repo.clear_plan(session, row.id)
    session.flush()
    last_seq = _write_fixed(session, row, out)
    visits = {v.visit_id: v for v in out.request.visits}
    starts = {t.team_id: t.start for t in out.request.teams}
    for route in out.plan.routes:
        assert out.data is not None  # a route exists only when the solver ran
        first = last_seq.get(int(route.team_id), 0) + 1
        _write_route(session, cfg, row, out, visits, route, starts[route.team_id], first)
    dropped_value = _write_dropped(session, row, out, visits)
    row.distance_m = out.plan.distance_m
    row.cost = out.plan.distance_m * COSTS.per_metre + dropped_value * COSTS.value_weight
    touch(session, row)


def _write_fixed(session: Session, row: VisitPlan, out: Outcome) -> dict[int, int]:
    """The kept stops, as they were; returns each team's last kept seq."""
    per_team: dict[int, int] = {}
    for f in out.fixed:
        per_team[f.team_id] = max(per_team.get(f.team_id, 0), f.seq)
        session.add(
            PlanStop(
                plan_id=row.id,
                case_id=f.case_id,
                contact_point_id=f.point_id,
                team_id=f.team_id,
                seq=f.seq,
                arrive_at=f.arrive_at,
                start_at=f.start_at,
                end_at=f.end_at,
                window_start=f.window_start,
                window_end=f.window_end,
                travel_m=f.travel_m,
                travel_seconds=f.travel_seconds,
                value=f.value,
                locked=True,
                status=f.status,
            )
        )
    return per_team


def _write_route(
    session: Session,
    cfg: PlanConfig,
    row: VisitPlan,
    out: Outcome,
    visits: Mapping[str, Visit],
    route: Route,
    here: Location,
    first: int,
) -> None:
    """One team's planned stops (from ``here``, numbered from ``first``) and its route."""
    day, team_id, data = row.day, int(route.team_id), out.data
    assert data is not None
    index = out.point_index
    service = 0
    for n, stop in enumerate(route.stops, first):
        visit = visits[stop.visit_id]
        a, b = index[here], index[visit.location]
        window = next(
            (w for w in clamp_windows(visit, out.request.allowed) if w[0] <= stop.start <= w[1]),
            (stop.start, stop.start),
        )
        service += stop.end - stop.start
        session.add(
            PlanStop(
                plan_id=row.id,
                case_id=out.meta[stop.visit_id].case_id,
                contact_point_id=out.meta[stop.visit_id].point_id,
                team_id=team_id,
                seq=n,
                arrive_at=cfg.at(day, stop.arrival),
                start_at=cfg.at(day, stop.start),
                end_at=cfg.at(day, stop.end),
                window_start=cfg.at(day, window[0]),
                window_end=cfg.at(day, window[1]),
                travel_m=int(data.distances[a, b]),
                travel_seconds=int(data.durations[a, b]),
                value=visit.value,
                locked="team:" + route.team_id in visit.skills,
                status=PLANNED,
            )
        )
        here = visit.location
    session.add(
        PlanRoute(
            plan_id=row.id,
            team_id=team_id,
            depart_at=cfg.at(day, route.depart),
            return_at=cfg.at(day, route.back),
            distance_m=route.distance_m,
            drive_seconds=route.travel_s,
            service_seconds=service,
            wait_seconds=max(0, route.back - route.depart - route.travel_s - service),
        )
    )


def _write_dropped(
    session: Session, row: VisitPlan, out: Outcome, visits: Mapping[str, Visit]
) -> int:
    """The visits the solver left out, then those dropped before it; returns their value."""
    dropped_value = 0
    for item in out.plan.dropped:
        dropped_value += visits[item.visit_id].value
        session.add(
            PlanStop(
                plan_id=row.id,
                case_id=out.meta[item.visit_id].case_id,
                contact_point_id=out.meta[item.visit_id].point_id,
                value=visits[item.visit_id].value,
                locked=False,
                status=DROPPED,
                drop_reason=item.reason.value,
            )
        )
    for case_id, reason in out.early_drops:
        session.add(
            PlanStop(
                plan_id=row.id,
                case_id=case_id,
                locked=False,
                status=DROPPED,
                drop_reason=reason.value,
            )
        )
    return dropped_value
