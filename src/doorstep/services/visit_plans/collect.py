"""From the database to a checked plan: a city's ready cases, teams and booked slots ->
a `PlanRequest` -> PyVRP -> the independent check and the conduct rules.

Windows of a visit: the borrower's booked slot for that day when there is one; a work
address only inside working hours; and always the allowed hours (``plan_allowed_hours``)
cut to the conduct rules' lawful spans. Times are seconds since the plan day's local
midnight (``Settings.timezone``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.errors import InvalidValue, PlanInfeasible
from doorstep.planning import (
    AllowedHours,
    DropReason,
    Location,
    Plan,
    PlanRequest,
    RoutingData,
    Team,
    TimeWindow,
    Visit,
    build,
    check,
)
from doorstep.services.cases.contacts import best, ranked_many
from doorstep.services.conduct import rules as conduct
from doorstep.services.visit_plans.config import COSTS, HOUR, PlanConfig
from doorstep.services.visit_plans.stops import FixedStop
from doorstep.store.models import Case
from doorstep.store.models import Team as TeamRow
from doorstep.store.repositories import plans as repo

PLANNER = Actor("planner", Role.ADMIN)
"""Who the rule decisions of planned stops are recorded for."""
EarlyDrop = tuple[int, DropReason]
"""A case dropped before solving (no address, unavailable, blocked by the rules)."""


@dataclass(frozen=True)
class Meta:
    """What a planning visit stands for: its case and the address visited."""

    case_id: int
    point_id: int
    location: Location


@dataclass
class Outcome:
    request: PlanRequest
    plan: Plan
    data: RoutingData | None
    meta: dict[str, Meta]
    early_drops: list[EarlyDrop]
    fixed: list[FixedStop]

    @cached_property
    def point_index(self) -> dict[Location, int]:
        """Location -> its index in the solver's matrices."""
        return {p: i for i, p in enumerate(self.data.points)} if self.data is not None else {}


def collect(
    session: Session,
    cfg: PlanConfig,
    plan_day: date,
    city: str,
    *,
    also: Collection[int] | None,
    locks: Mapping[int, int],
    starts: Mapping[str, Any],
    fixed: Sequence[FixedStop],
    seconds: float,
    seed: int,
    wanted: Collection[int] | None = None,
) -> Outcome:
    """Read teams and cases, plan, check. ``also``: scheduled cases that may be planned
    again; ``wanted``: plan only these cases (the ones of an existing draft); ``locks``:
    case -> the team it must stay on; ``starts``: team -> where and when it starts again
    (a replan)."""
    team_rows = repo.teams_of_city(session, city)
    if not team_rows:
        raise InvalidValue(f"no verifier team in {city}", message_zh=f"{city} 没有外访小组")
    fixed_ids = {f.case_id for f in fixed}
    candidates = [
        c
        for c in repo.plannable_cases(session, city, also)
        if c.id not in fixed_ids and (wanted is None or c.id in wanted)
    ]
    allowed, spans = cfg.lawful(plan_day)
    now = cfg.clock.now()
    held = conduct.held_case_ids(session, [c.id for c in candidates], now) if candidates else set()
    candidates = [c for c in candidates if c.id not in held]
    early: list[EarlyDrop] = [
        (case_id, DropReason.CASE_UNAVAILABLE)
        for case_id in sorted(set(wanted or ()) - fixed_ids - {c.id for c in candidates})
    ]
    sizes = repo.team_sizes(session, [t.id for t in team_rows])
    blocked = _blocked(
        session, cfg, plan_day, allowed, candidates, max(sizes.values(), default=0), now
    )
    early += [(case_id, why) for case_id, why in blocked]
    gone = {case_id for case_id, _ in blocked}
    candidates = [c for c in candidates if c.id not in gone]
    visits, meta = _visits(session, cfg, plan_day, candidates, spans, locks, early, now)
    centre = (
        Location(
            sum(v.location.lat for v in visits) / len(visits),
            sum(v.location.lng for v in visits) / len(visits),
        )
        if visits
        else Location(0.0, 0.0)
    )
    team_list = [t for t in (_team(row, centre, starts) for row in team_rows) if t is not None]
    request = PlanRequest(
        plan_day, tuple(team_list), tuple(visits), travel=cfg.travel, allowed=allowed
    )
    if not visits:
        return Outcome(request, Plan(plan_day, (), (), 0, seed), None, meta, early, list(fixed))
    plan, data = _solve(session, cfg, request, meta, sizes, seconds, seed, now)
    return Outcome(request, plan, data, meta, early, list(fixed))


def _blocked(
    session: Session,
    cfg: PlanConfig,
    plan_day: date,
    allowed: AllowedHours,
    candidates: Sequence[Case],
    team_size: int,
    now: datetime,
) -> list[EarlyDrop]:
    """Cases the rules forbid whatever the time (team, gap, notice), in candidate order,
    and those visited within the visit interval (a warning) that no manager let through."""
    if cfg.pack is None:
        return []
    blocked: list[EarlyDrop] = []
    begin = cfg.at(plan_day, allowed.start)
    overridden = conduct.interval_overridden(session, [c.id for c in candidates], cfg.pack, now)
    for case in candidates:
        decision = conduct.check_plan_visit(
            session,
            case.id,
            begin,
            begin + timedelta(seconds=cfg.service_seconds(case)),
            team_size,
            pack=cfg.pack,
            now=now,
            zone=cfg.zone,
        )
        if decision.blocked:
            blocked.append((case.id, DropReason.RULE_BLOCKED))
        elif case.id not in overridden and conduct.interval_warned(decision, cfg.pack):
            blocked.append((case.id, DropReason.VISITED_RECENTLY))
    return blocked


def _visits(
    session: Session,
    cfg: PlanConfig,
    plan_day: date,
    candidates: Sequence[Case],
    spans: Sequence[tuple[int, int]],
    locks: Mapping[int, int],
    early: list[EarlyDrop],
    now: datetime,
) -> tuple[list[Visit], dict[str, Meta]]:
    """A visit per case at its best address (a case without one joins ``early``)."""
    slots = {
        s.customer_id: (
            s.start.hour * HOUR + s.start.minute * 60,
            s.end.hour * HOUR + s.end.minute * 60,
        )
        for s in repo.live_slots(session, {c.customer_id for c in candidates}, plan_day).values()
    }
    visits: list[Visit] = []
    meta: dict[str, Meta] = {}
    top = max((c.priority for c in candidates), default=1) or 1
    every = ranked_many(session, [c.customer_id for c in candidates], now)
    not_at_work = conduct.no_work_visits(session, [c.customer_id for c in candidates], now)
    chosen = {}
    for case in candidates:
        addresses = every[case.customer_id]
        if case.customer_id in not_at_work:  # the borrower asked: never at the workplace
            addresses = [r for r in addresses if r.point.kind != "work"]
        chosen[case.id] = best(addresses, "address")
    # the day's positions opened in one pass, here only: the solver needs them
    opened = cfg.positions({a.point.id: a.point for a in chosen.values() if a is not None})
    for case in candidates:
        address = chosen[case.id]
        position = opened.get(address.point.id) if address is not None else None
        if address is None or position is None:
            early.append((case.id, DropReason.NO_ADDRESS))
            continue
        where = Location(*position)
        lock = locks.get(case.id)
        visits.append(
            Visit(
                str(case.id),
                where,
                service_seconds=cfg.service_seconds(case),
                windows=_windows(case, address.point.kind, slots.get(case.customer_id), cfg, spans),
                value=max(1, 1000 * max(case.priority, 0) // top),
                required=lock is not None,
                skills=frozenset({f"team:{lock}"}) if lock is not None else frozenset(),
            )
        )
        meta[str(case.id)] = Meta(case.id, address.point.id, where)
    return visits, meta


def _windows(
    case: Case,
    kind: str,
    slot: tuple[int, int] | None,
    cfg: PlanConfig,
    spans: Sequence[tuple[int, int]],
) -> tuple[TimeWindow, ...]:
    """Start windows: inside a lawful span, the booked slot, and working hours at work
    (the whole visit inside each). Empty: any time inside the allowed hours."""
    service = cfg.service_seconds(case)
    if slot is None and kind != "work" and len(spans) <= 1:
        return ()
    bounds = [(a, b - service) for a, b in spans]
    for lo, hi in ([slot] if slot else []) + (
        [(cfg.working.start, cfg.working.end)] if kind == "work" else []
    ):
        bounds = [(max(a, lo), min(b, hi - service)) for a, b in bounds]
    kept = [TimeWindow(max(0, a), b) for a, b in bounds if max(0, a) <= b]
    return tuple(kept) or (TimeWindow(0, 0),)  # no lawful start: the builder drops it


def _team(row: TeamRow, centre: Location, starts: Mapping[str, Any]) -> Team | None:
    """The team of a row; after a replan it leaves from where it is, when it is free."""
    base = (
        Location(row.base_lat, row.base_lng)
        if row.base_lat is not None and row.base_lng is not None
        else centre
    )
    shift = (row.shift_start_minute * 60, row.shift_end_minute * 60)
    start, begin, visits = base, shift[0], row.max_visits
    if (now := starts.get(str(row.id))) is not None:
        lat, lng, at, left = now
        start = Location(lat, lng) if lat is not None and lng is not None else base
        begin, visits = max(begin, int(at)), int(left)
    if begin >= shift[1] or visits <= 0:
        return None  # no time or no visits left today
    skills = frozenset(row.skills or ()) | {f"team:{row.id}"}
    return Team(str(row.id), start, base, begin, shift[1], visits, skills)


def _solve(
    session: Session,
    cfg: PlanConfig,
    request: PlanRequest,
    meta: Mapping[str, Meta],
    sizes: Mapping[int, int],
    seconds: float,
    seed: int,
    now: datetime,
) -> tuple[Plan, RoutingData]:
    """The best plan of ``cfg.workers`` seeds, checked: an infeasible plan is an error."""
    from doorstep.planning.parallel import solve_best  # loads PyVRP only when planning

    data = build(request, costs=COSTS)
    seeds = [seed + k for k in range(cfg.workers)]
    plan = solve_best(data, seconds, seeds, iterations=cfg.iterations)
    check(plan, request)  # an infeasible plan is an error, never saved
    _check_rules(session, cfg, plan, meta, sizes, now)
    return plan, data


def _check_rules(
    session: Session,
    cfg: PlanConfig,
    plan: Plan,
    meta: Mapping[str, Meta],
    sizes: Mapping[int, int],
    now: datetime,
) -> None:
    """Every planned stop, as planned, against the conduct rules: a block is an error;
    the decision of each routed stop is kept (`rule_decisions`), with the manager's reason
    where one let the stop through a warning."""
    if cfg.pack is None:
        return
    found = []
    overridden = conduct.interval_overridden(
        session, [m.case_id for m in meta.values()], cfg.pack, now
    )
    for route in plan.routes:
        for stop in route.stops:
            decision = conduct.check_plan_visit(
                session,
                meta[stop.visit_id].case_id,
                cfg.at(plan.date, stop.start),
                cfg.at(plan.date, stop.end),
                sizes.get(int(route.team_id), 0),
                pack=cfg.pack,
                now=now,
                zone=cfg.zone,
            )
            case_id = meta[stop.visit_id].case_id
            if decision.blocked:
                found.append(f"case {case_id}: {decision.explain()}")
                continue
            conduct.record_decision(
                session, PLANNER, decision, pack=cfg.pack, case_id=case_id, performed=True,
                at=now, override_reason=overridden.get(case_id), keep_allowed=True,
            )  # fmt: skip
    if found:
        raise PlanInfeasible(found)
