"""Visit plans: plan a city's day, keep it as a draft, edit it, publish it, replan it.

* `run_plan`: the city's ready cases (not on hold) and its teams -> a `PlanRequest` ->
  PyVRP -> the independent check -> saved as a *draft*. An infeasible plan raises
  `PlanInfeasible` before anything is written.
* `move_stop` / `lock_stop` / `reoptimise`: a locked stop stays on its team (the visit
  gets a skill only that team has, and is required); the rest is planned again.
* `publish`: cases go ready -> scheduled through `services.cases.act` (audited), each team
  gets a live `Assignment` for its cases until the end of the day; a new publication of
  the same city and day supersedes the old one and unschedules the cases it dropped.
* `replan`: during the day, finished and started stops stay; the rest is planned again
  from each team's current position and time, as a new draft to publish.

Every edit names the plan version it was made on: a stale version is a `Conflict` (409),
and the row's version column catches two writers racing past that check.

Windows of a visit: the borrower's booked slot for that day when there is one; a work
address only inside working hours; and always the allowed hours (``plan_allowed_hours``).
Times inside a plan are seconds since the plan day's local midnight (``Settings.timezone``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.config import Settings
from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import CaseState
from doorstep.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidValue,
    NotFound,
    PlanInfeasible,
)
from doorstep.domain.rules import Pack
from doorstep.planning import (
    AllowedHours,
    CostWeights,
    DropReason,
    GreatCircleTravel,
    Location,
    Plan,
    PlanRequest,
    RoutingData,
    Team,
    TimeWindow,
    TravelTimes,
    Visit,
    build,
    check,
)
from doorstep.planning.model import clamp_windows
from doorstep.planning.osrm import OsrmTravel
from doorstep.services import cases
from doorstep.services.cases.contacts import best, ranked
from doorstep.services.conduct import audit
from doorstep.services.conduct import rules as conduct
from doorstep.services.people import teams
from doorstep.store.models import Case, PlanRoute, PlanStop, VisitPlan
from doorstep.store.models import Team as TeamRow
from doorstep.store.models.base import utcnow
from doorstep.store.repositories import plans as repo

__all__ = [
    "DayPlan",
    "PlanConfig",
    "lock_stop",
    "move_stop",
    "plan_city_day",
    "publish",
    "reoptimise",
    "replan",
    "run_plan",
]

HOUR = 3600
COSTS = CostWeights()
PLANNED, DROPPED, STARTED, DONE, CANCELLED = "planned", "dropped", "started", "done", "cancelled"
FIXED = frozenset({STARTED, DONE})
AT_THE_DOOR = frozenset({CaseState.VISITING.value, CaseState.VISITED.value, CaseState.CLOSED.value})


# --- configuration ----------------------------------------------------------------------


def _hours(text: str, name: str) -> tuple[int, int]:
    """``"08:00-22:00"`` -> seconds since midnight; a clear error naming the setting."""
    try:
        a, b = (part.strip() for part in text.split("-"))
        start, end = (int(x[:2]) * HOUR + int(x[3:5]) * 60 for x in (a, b))
        if len(a) != 5 or len(b) != 5 or a[2] != ":" or b[2] != ":" or not 0 <= start < end:
            raise ValueError
        if end > 24 * HOUR:
            raise ValueError
    except ValueError:
        raise InvalidValue(
            f"{name} {text!r} is not HH:MM-HH:MM with start before end",
            message_zh=f"{name} {text!r} 应为 HH:MM-HH:MM，且开始早于结束",
        ) from None
    return start, end


def _minutes(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.rpartition(":")
        if not key or not value.isdigit() or not 0 < int(value) <= 600:
            raise InvalidValue(
                f"plan_service_minutes item {item!r} is not KIND:MINUTES (1..600)",
                message_zh=f"plan_service_minutes 项 {item!r} 应为 类型:分钟（1..600）",
            )
        out[key.strip()] = int(value)
    out.setdefault("default", 30)
    return out


@dataclass(frozen=True)
class PlanConfig:
    """How plans are made, from `Settings`."""

    allowed: AllowedHours = field(default_factory=AllowedHours)
    working: TimeWindow = field(default_factory=lambda: TimeWindow(9 * HOUR, 18 * HOUR))
    service_minutes: Mapping[str, int] = field(default_factory=lambda: {"default": 30})
    travel: TravelTimes = field(default_factory=GreatCircleTravel)
    seconds: float = 10.0
    edit_seconds: float = 3.0
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    workers: int = 1
    """Seeds solved at once, one process each; the best plan is kept."""
    pack: Pack | None = None
    """The conduct rules: quiet hours become windows, holds and blocks exclusions."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PlanConfig:
        travel: TravelTimes = (
            OsrmTravel(settings.osrm_url)
            if settings.osrm_url
            else GreatCircleTravel(detour=settings.plan_detour, speed_kmh=settings.plan_speed_kmh)
        )
        return cls(
            allowed=AllowedHours(*_hours(settings.plan_allowed_hours, "plan_allowed_hours")),
            working=TimeWindow(*_hours(settings.plan_working_hours, "plan_working_hours")),
            service_minutes=_minutes(settings.plan_service_minutes),
            travel=travel,
            seconds=settings.plan_seconds,
            edit_seconds=settings.plan_edit_seconds,
            zone=settings.zone,
            workers=settings.plan_workers,
            pack=settings.rules_pack,
        )

    def lawful(self, day: date) -> tuple[AllowedHours, tuple[tuple[int, int], ...]]:
        """The allowed hours of ``day``: the setting cut to the conduct rules' hours for
        planning a visit (outside every quiet-hours rule), and those lawful spans."""
        if self.pack is None:
            return self.allowed, ((self.allowed.start, self.allowed.end),)
        spans = tuple(
            (
                a.hour * HOUR + a.minute * 60,
                24 * HOUR if b == time.max else b.hour * HOUR + b.minute * 60,
            )
            for a, b in conduct.allowed_visit_hours(self.pack, day, self.zone)
        )
        start = max(self.allowed.start, min((a for a, _ in spans), default=self.allowed.end))
        end = min(self.allowed.end, max((b for _, b in spans), default=self.allowed.start))
        if start >= end:
            raise InvalidValue(
                "the conduct rules and plan_allowed_hours leave no time for a visit",
                message_zh="合规规则与 plan_allowed_hours 之间没有可外访的时段",
            )
        return AllowedHours(start, end), spans

    def service_seconds(self, case: Case) -> int:
        """Minutes at the door: skip-trace cases, then the case's bucket, then the default."""
        for key in (("skip_trace",) if case.skip_trace else ()) + (case.bucket, "default"):
            if key in self.service_minutes:
                return 60 * self.service_minutes[key]
        return 1800

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def at(self, day: date, seconds: int) -> datetime:
        """Seconds since the day's local midnight -> an aware UTC datetime."""
        return (self.midnight(day) + timedelta(seconds=seconds)).astimezone(UTC)

    def seconds_of(self, day: date, moment: datetime) -> int:
        return math.floor((moment - self.midnight(day)).total_seconds())

    def day_end(self, day: date) -> datetime:
        return self.midnight(day + timedelta(days=1)).astimezone(UTC)


# --- access -----------------------------------------------------------------------------


def _require(actor: Actor, city: str) -> None:
    if not actor.can(Permission.PLAN_VISITS):
        raise Forbidden("your role cannot plan visits", message_zh="您的角色无权安排外访")
    if actor.regions is not None and city not in actor.regions:
        raise Forbidden(f"{city} is not one of your regions", message_zh=f"{city} 不在您的管辖区域")


def get_plan(session: Session, actor: Actor, plan_id: int) -> VisitPlan:
    """A plan the actor may work on; 404 for one outside their regions (ids do not leak)."""
    if not actor.can(Permission.PLAN_VISITS):
        raise Forbidden("your role cannot plan visits", message_zh="您的角色无权安排外访")
    plan = repo.get_plan(session, plan_id) if 0 < plan_id < 2**31 else None
    if plan is None or (actor.regions is not None and plan.city not in actor.regions):
        raise NotFound(f"no visit plan {plan_id}", message_zh=f"没有外访计划 {plan_id}")
    return plan


def _expect(plan: VisitPlan, version: int | None, *, state: str | None = "draft") -> None:
    if version is not None and plan.version != version:
        raise Conflict(
            "the plan was changed by someone else: reload it",
            message_zh="外访计划已被他人修改，请刷新",
        )
    if state is not None and plan.state != state:
        raise IllegalTransition(
            f"the plan is {plan.state}, not {state}",
            message_zh=f"外访计划状态为 {plan.state}，不是 {state}",
        )


def _touch(session: Session, plan: VisitPlan) -> None:
    """Write the plan row (bumping its version); a concurrent writer gets a Conflict."""
    plan.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "the plan was changed by someone else: reload it",
            message_zh="外访计划已被他人修改，请刷新",
        ) from None


# --- building the request ---------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    case_id: int
    point_id: int
    location: Location


@dataclass(frozen=True)
class _Fixed:
    """A stop kept as it is (started or done before a replan)."""

    case_id: int
    point_id: int | None
    team_id: int
    seq: int
    status: str
    arrive_at: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    travel_m: int
    travel_seconds: int
    value: int


@dataclass
class _Outcome:
    request: PlanRequest
    plan: Plan
    data: RoutingData | None
    meta: dict[str, _Meta]
    early_drops: list[tuple[int, DropReason]]  # case-level: no address, unavailable
    fixed: list[_Fixed]


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


def _collect(
    session: Session,
    cfg: PlanConfig,
    plan_day: date,
    city: str,
    *,
    also: Collection[int] | None,
    locks: Mapping[int, int],
    starts: Mapping[str, Any],
    fixed: Sequence[_Fixed],
    seconds: float,
    seed: int,
    wanted: Collection[int] | None = None,
) -> _Outcome:
    """Read teams and cases, plan, check. ``also``: scheduled cases that may be planned
    again; ``wanted``: plan only these cases (the ones of an existing draft)."""
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
    held = (
        conduct.held_case_ids(session, [c.id for c in candidates], utcnow())
        if candidates
        else set()
    )
    candidates = [c for c in candidates if c.id not in held]
    early: list[tuple[int, DropReason]] = [
        (case_id, DropReason.CASE_UNAVAILABLE)
        for case_id in sorted(set(wanted or ()) - fixed_ids - {c.id for c in candidates})
    ]
    sizes = repo.team_sizes(session, [t.id for t in team_rows])
    if cfg.pack is not None:  # what the rules forbid whatever the time (team, gap, notice)
        blocked = set()
        for case in candidates:
            begin = cfg.at(plan_day, allowed.start)
            decision = conduct.check_plan_visit(
                session,
                case.id,
                begin,
                begin + timedelta(seconds=cfg.service_seconds(case)),
                max(sizes.values(), default=0),
                pack=cfg.pack,
                now=utcnow(),
                zone=cfg.zone,
            )
            if decision.blocked:
                blocked.add(case.id)
                early.append((case.id, DropReason.RULE_BLOCKED))
        candidates = [c for c in candidates if c.id not in blocked]
    slots = {
        s.customer_id: (
            s.start.hour * HOUR + s.start.minute * 60,
            s.end.hour * HOUR + s.end.minute * 60,
        )
        for s in repo.live_slots(session, {c.customer_id for c in candidates}, plan_day).values()
    }
    visits: list[Visit] = []
    meta: dict[str, _Meta] = {}
    top = max((c.priority for c in candidates), default=1) or 1
    for case in candidates:
        address = best(ranked(session, case.customer_id, utcnow()), "address")
        if address is None or address.point.lat is None or address.point.lng is None:
            early.append((case.id, DropReason.NO_ADDRESS))
            continue
        where = Location(address.point.lat, address.point.lng)
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
        meta[str(case.id)] = _Meta(case.id, address.point.id, where)
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
        return _Outcome(request, Plan(plan_day, (), (), 0, seed), None, meta, early, list(fixed))
    from doorstep.planning.parallel import solve_best  # loads PyVRP only when planning

    data = build(request, costs=COSTS)
    plan = solve_best(data, seconds, [seed + k for k in range(cfg.workers)])
    check(plan, request)  # an infeasible plan is an error, never saved
    _check_rules(session, cfg, plan, meta, sizes)
    return _Outcome(request, plan, data, meta, early, list(fixed))


def _check_rules(
    session: Session,
    cfg: PlanConfig,
    plan: Plan,
    meta: Mapping[str, _Meta],
    sizes: Mapping[int, int],
) -> None:
    """Every planned stop, as planned, against the conduct rules: a block is an error."""
    if cfg.pack is None:
        return
    found = []
    for route in plan.routes:
        for stop in route.stops:
            decision = conduct.check_plan_visit(
                session,
                meta[stop.visit_id].case_id,
                cfg.at(plan.date, stop.start),
                cfg.at(plan.date, stop.end),
                sizes.get(int(route.team_id), 0),
                pack=cfg.pack,
                now=utcnow(),
                zone=cfg.zone,
            )
            if decision.blocked:
                found.append(f"case {meta[stop.visit_id].case_id}: {decision.explain()}")
    if found:
        raise PlanInfeasible(found)


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


# --- writing ----------------------------------------------------------------------------


def _write(session: Session, cfg: PlanConfig, row: VisitPlan, out: _Outcome) -> None:
    repo.clear_plan(session, row.id)
    session.flush()
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
    day = row.day
    visits = {v.visit_id: v for v in out.request.visits}
    teams_by_id = {t.team_id: t for t in out.request.teams}
    data = out.data
    index = {p: i for i, p in enumerate(data.points)} if data is not None else {}
    for route in out.plan.routes:
        team = teams_by_id[route.team_id]
        team_id = int(route.team_id)
        here = team.start
        service = 0
        for n, stop in enumerate(route.stops, per_team.get(team_id, 0) + 1):
            visit = visits[stop.visit_id]
            a, b = index[here], index[visit.location]
            assert data is not None  # a route exists only when the solver ran
            window = next(
                (
                    w
                    for w in clamp_windows(visit, out.request.allowed)
                    if w[0] <= stop.start <= w[1]
                ),
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
    row.distance_m = out.plan.distance_m
    row.cost = out.plan.distance_m * COSTS.per_metre + dropped_value * COSTS.value_weight
    _touch(session, row)


# --- use cases --------------------------------------------------------------------------


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
    _require(actor, city)
    budget = _budget(seconds, cfg.seconds)
    out = _collect(
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
    row = VisitPlan(
        city=city,
        day=day,
        state="draft",
        seconds=math.ceil(budget),
        seed=seed,
        cost=0,
        distance_m=0,
        settings=_settings_of(cfg),
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    _write(session, cfg, row, out)
    audit.record(session, actor, "plan.run", "visit_plan", row.id, _summary(row, out))
    return row


def _budget(seconds: float | None, default: float) -> float:
    budget = default if seconds is None else seconds
    if not (math.isfinite(budget) and 0 < budget <= 600):
        raise InvalidValue(
            f"seconds {budget} is not in (0, 600]", message_zh=f"求解时间 {budget} 不在 (0, 600] 内"
        )
    return budget


def _settings_of(cfg: PlanConfig, **extra: Any) -> dict[str, object]:
    return {
        "allowed": [cfg.allowed.start, cfg.allowed.end],
        "working": [cfg.working.start, cfg.working.end],
        "service_minutes": dict(cfg.service_minutes),
        "travel": type(cfg.travel).__name__,
        **extra,
    }


def _summary(row: VisitPlan, out: _Outcome) -> dict[str, Any]:
    return {
        "city": row.city,
        "day": row.day.isoformat(),
        "routes": len(out.plan.routes),
        "planned": len(out.plan.planned_ids),
        "dropped": len(out.plan.dropped) + len(out.early_drops),
        "distance_m": out.plan.distance_m,
    }


def reoptimise(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    seconds: float | None = None,
) -> VisitPlan:
    """Plan a draft's cases again; locked stops stay on their team, fixed stops as they are."""
    row = get_plan(session, actor, plan_id)
    _require(actor, row.city)
    _expect(row, version)
    return _reoptimise(session, actor, row, cfg, _budget(seconds, row.seconds or cfg.seconds))


def _reoptimise(
    session: Session, actor: Actor, row: VisitPlan, cfg: PlanConfig, seconds: float
) -> VisitPlan:
    rows = repo.stops(session, row.id)
    fixed = [_fixed_of(s) for s in rows if s.status in FIXED and s.team_id is not None]
    fixed_ids = {f.case_id for f in fixed}
    wanted = {s.case_id for s in rows if s.case_id not in fixed_ids and s.status != CANCELLED}
    locks = {
        s.case_id: s.team_id
        for s in rows
        if s.locked and s.team_id is not None and s.status == PLANNED
    }
    starts: Mapping[str, Any] = dict((row.settings or {}).get("starts") or {})  # type: ignore[call-overload]
    out = _collect(
        session,
        cfg,
        row.day,
        row.city,
        also=wanted,
        locks=locks,
        starts=starts,
        fixed=fixed,
        seconds=seconds,
        seed=row.seed,
        wanted=wanted,
    )
    _write(session, cfg, row, out)
    audit.record(session, actor, "plan.reoptimise", "visit_plan", row.id, _summary(row, out))
    return row


def _fixed_of(s: PlanStop) -> _Fixed:
    assert s.team_id is not None
    assert s.seq is not None
    return _Fixed(
        s.case_id,
        s.contact_point_id,
        s.team_id,
        s.seq,
        s.status,
        s.arrive_at,
        s.start_at,
        s.end_at,
        s.window_start,
        s.window_end,
        s.travel_m,
        s.travel_seconds,
        s.value,
    )


def _stop_of(session: Session, row: VisitPlan, stop_id: int) -> PlanStop:
    stop = session.get(PlanStop, stop_id) if 0 < stop_id < 2**31 else None
    if stop is None or stop.plan_id != row.id:
        raise NotFound(
            f"no stop {stop_id} in plan {row.id}", message_zh=f"计划 {row.id} 中没有站点 {stop_id}"
        )
    if stop.status in FIXED:
        raise IllegalTransition(
            "a started or finished visit cannot be changed",
            message_zh="已开始或已完成的外访不能修改",
        )
    return stop


def move_stop(
    session: Session,
    actor: Actor,
    plan_id: int,
    stop_id: int,
    team_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    seconds: float | None = None,
) -> VisitPlan:
    """Give a visit to another team (locked there) and re-optimise the rest."""
    row = get_plan(session, actor, plan_id)
    _require(actor, row.city)
    _expect(row, version)
    stop = _stop_of(session, row, stop_id)
    if team_id not in {t.id for t in repo.teams_of_city(session, row.city)}:
        raise InvalidValue(
            f"team_id {team_id} is not a team of {row.city}",
            message_zh=f"外访组 {team_id} 不属于 {row.city}",
        )
    before = stop.team_id
    stop.team_id, stop.locked, stop.status = team_id, True, PLANNED
    session.flush()
    audit.record(
        session,
        actor,
        "plan.move_stop",
        "visit_plan",
        row.id,
        {"case_id": stop.case_id, "from_team": before, "to_team": team_id},
    )
    return _reoptimise(session, actor, row, cfg, _budget(seconds, cfg.edit_seconds))


def lock_stop(
    session: Session,
    actor: Actor,
    plan_id: int,
    stop_id: int,
    *,
    locked: bool,
    version: int | None,
) -> VisitPlan:
    """Keep a planned visit on its team when the plan is re-optimised (or let it go)."""
    row = get_plan(session, actor, plan_id)
    _require(actor, row.city)
    _expect(row, version)
    stop = _stop_of(session, row, stop_id)
    if locked and stop.team_id is None:
        raise IllegalTransition(
            "a dropped visit has no team to lock it to: move it to a team",
            message_zh="未安排的外访没有可锁定的外访组，请先移动到某个组",
        )
    stop.locked = locked
    _touch(session, row)
    audit.record(
        session,
        actor,
        "plan.lock_stop" if locked else "plan.unlock_stop",
        "visit_plan",
        row.id,
        {"case_id": stop.case_id, "team_id": stop.team_id},
    )
    return row


def publish(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    now: datetime | None = None,
) -> VisitPlan:
    """Publish a draft: schedule its cases, give each team its cases for the day, and
    supersede the city's earlier publication of the day (unscheduling what it dropped)."""
    now = now or datetime.now(UTC)
    row = get_plan(session, actor, plan_id)
    _require(actor, row.city)
    _expect(row, version)
    day_end = cfg.day_end(row.day)
    if now >= day_end:
        raise IllegalTransition(
            f"{row.day} is over: plan a coming day",
            message_zh=f"{row.day} 已过去，请安排之后的日期",
        )
    new_stops = [s for s in repo.stops(session, row.id) if s.team_id is not None]
    routed = {(s.case_id, s.team_id) for s in new_stops if s.team_id is not None}
    new_cases = {s.case_id for s in new_stops}
    old = repo.published_plan(session, row.city, row.day)
    live = []
    if old is not None:
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
        states = repo.cases_by_id(session, {s.case_id for s in old_stops} - new_cases)
        for case in states.values():
            if case.state == CaseState.SCHEDULED.value:
                cases.act(session, actor, case.id, "unschedule", reason=f"not in plan {row.id}")
        old.state = "superseded"
        _touch(session, old)
    kept = {(a.case_id, a.team_id) for a in live if a.revoked_at is None}
    states = repo.cases_by_id(session, new_cases)
    for stop in new_stops:
        assert stop.team_id is not None
        case = states[stop.case_id]
        if stop.status == PLANNED:
            if case.state == CaseState.READY.value and case.hold_reason is None:
                cases.act(session, actor, case.id, "schedule", reason=f"plan {row.id}")
            elif case.state != CaseState.SCHEDULED.value or case.hold_reason is not None:
                raise Conflict(
                    f"case {case.id} is {case.state}"
                    f"{' on hold' if case.hold_reason else ''} since the plan was made: "
                    "re-optimise first",
                    message_zh=f"案件 {case.id} 在计划后状态已变化，请先重新优化",
                )
        if (stop.case_id, stop.team_id) not in kept:
            teams.assign(session, actor, stop.case_id, stop.team_id, now, day_end)
    row.state, row.published_at, row.published_by = "published", now, actor.user_id
    _touch(session, row)
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


def replan(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    now: datetime | None = None,
    seconds: float | None = None,
) -> VisitPlan:
    """During the day: keep finished and started stops, plan the rest from where each team
    is and when it is free, as a new draft (publish it to take effect)."""
    now = now or datetime.now(UTC)
    old = get_plan(session, actor, plan_id)
    _require(actor, old.city)
    _expect(old, None, state="published")
    if now >= cfg.day_end(old.day):
        raise IllegalTransition(f"{old.day} is over", message_zh=f"{old.day} 已过去")
    clock = max(0, cfg.seconds_of(old.day, now))
    rows = repo.stops(session, old.id)
    states = repo.cases_by_id(session, {s.case_id for s in rows})
    points = repo.points_by_id(session, {s.contact_point_id for s in rows if s.contact_point_id})
    team_rows = {t.id: t for t in repo.teams_of_city(session, old.city)}
    fixed: list[_Fixed] = []
    starts: dict[str, list[Any]] = {}
    for team_id, team in team_rows.items():
        mine = [s for s in rows if s.team_id == team_id]
        done = [
            s
            for s in mine
            if s.status in FIXED
            or states[s.case_id].state in AT_THE_DOOR
            or (s.status == PLANNED and s.start_at is not None and s.start_at <= now)
        ]
        for seq, s in enumerate(sorted(done, key=lambda s: s.seq or 0), 1):
            status = DONE if s.status == DONE or (s.end_at and s.end_at <= now) else STARTED
            fixed.append(replace(_fixed_of(s), seq=seq, status=status))
        last = max(done, key=lambda s: s.end_at or now, default=None)
        if last is not None and last.contact_point_id in points:
            point = points[last.contact_point_id]
            free = max(clock, cfg.seconds_of(old.day, last.end_at or now))
            starts[str(team_id)] = [point.lat, point.lng, free, team.max_visits - len(done)]
        else:
            starts[str(team_id)] = [team.base_lat, team.base_lng, clock, team.max_visits]
    fixed_ids = {f.case_id for f in fixed}
    others = {s.case_id for s in rows if s.case_id not in fixed_ids}
    budget = _budget(seconds, old.seconds or cfg.seconds)
    out = _collect(
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
    row = VisitPlan(
        city=old.city,
        day=old.day,
        state="draft",
        seconds=math.ceil(budget),
        seed=old.seed,
        cost=0,
        distance_m=0,
        settings=_settings_of(cfg, replan_of=old.id, now=now.isoformat(), starts=starts),
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    _write(session, cfg, row, out)
    audit.record(session, actor, "plan.replan", "visit_plan", row.id, _summary(row, out))
    return row


# --- the command line's one-shot plan ---------------------------------------------------


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
    row = run_plan(session, actor, day, city, cfg, seconds=seconds, seed=seed)
    return DayPlan(row, repo.stops(session, row.id), repo.routes(session, row.id))


# --- what the planning page shows -------------------------------------------------------

COLOURS = ("#1f5fbf", "#c2410c", "#15803d", "#7c3aed", "#be123c", "#0e7490", "#a16207")


@dataclass(frozen=True)
class StopView:
    id: int
    case_id: int
    seq: int | None
    team_id: int | None
    arrive: str
    start: str
    end: str
    window: str
    travel_km: float
    value: int
    locked: bool
    status: str
    reason: str | None
    lat: float | None
    lng: float | None
    district: str | None
    bucket: str | None


@dataclass(frozen=True)
class RouteView:
    team_id: int
    team: str
    colour: str
    stops: list[StopView]
    km: float
    drive_min: int
    service_min: int
    wait_min: int
    utilisation: int  # per cent of the shift spent driving or at the door
    depart: str
    back: str


@dataclass(frozen=True)
class PlanView:
    plan: VisitPlan
    routes: list[RouteView]
    dropped: list[StopView]
    teams: list[tuple[int, str]]
    map: dict[str, Any]


def plan_view(session: Session, actor: Actor, plan_id: int, cfg: PlanConfig) -> PlanView:
    """A plan as the planning page shows it: routes per team, dropped visits, map data."""
    row = get_plan(session, actor, plan_id)
    rows = repo.stops(session, row.id)
    team_rows = repo.teams_of_city(session, row.city)
    names = {t.id: t.name for t in team_rows}
    routes = {r.team_id: r for r in repo.routes(session, row.id)}
    points = repo.points_by_id(session, {s.contact_point_id for s in rows if s.contact_point_id})
    facts = repo.cases_by_id(session, {s.case_id for s in rows})

    def clock(moment: datetime | None) -> str:
        return moment.astimezone(cfg.zone).strftime("%H:%M") if moment else ""

    def view(s: PlanStop) -> StopView:
        point = points.get(s.contact_point_id) if s.contact_point_id else None
        case = facts.get(s.case_id)
        return StopView(
            s.id, s.case_id, s.seq, s.team_id, clock(s.arrive_at), clock(s.start_at),
            clock(s.end_at),
            f"{clock(s.window_start)}–{clock(s.window_end)}" if s.window_start else "",
            round(s.travel_m / 1000, 1), s.value, s.locked, s.status, s.drop_reason,
            point.lat if point else None, point.lng if point else None,
            case.district if case else None, case.bucket if case else None,
        )  # fmt: skip

    out: list[RouteView] = []
    for n, team in enumerate(team_rows):
        mine = [view(s) for s in rows if s.team_id == team.id]
        if not mine:
            continue
        route = routes.get(team.id)
        shift = max(1, (team.shift_end_minute - team.shift_start_minute) * 60)
        drive = route.drive_seconds if route else 0
        service = route.service_seconds if route else 0
        out.append(
            RouteView(
                team.id,
                team.name,
                COLOURS[n % len(COLOURS)],
                mine,
                round((route.distance_m if route else 0) / 1000, 1),
                round(drive / 60),
                round(service / 60),
                round((route.wait_seconds if route else 0) / 60),
                round(100 * (drive + service) / shift),
                clock(route.depart_at) if route else "",
                clock(route.return_at) if route else "",
            )
        )
    dropped = [view(s) for s in rows if s.team_id is None]
    bases = {t.id: (t.base_lat, t.base_lng) for t in team_rows}
    geo = {
        "routes": [
            {
                "team": r.team,
                "colour": r.colour,
                "base": list(bases[r.team_id]) if bases[r.team_id][0] is not None else None,
                "stops": [[s.lat, s.lng, s.seq, s.case_id] for s in r.stops if s.lat is not None],
            }
            for r in out
        ],
        "dropped": [[s.lat, s.lng, s.case_id] for s in dropped if s.lat is not None],
    }
    return PlanView(row, out, dropped, [(t.id, names[t.id]) for t in team_rows], geo)


def plans_for(session: Session, actor: Actor) -> list[VisitPlan]:
    """The latest plans of the actor's regions."""
    if not actor.can(Permission.PLAN_VISITS):
        raise Forbidden("your role cannot plan visits", message_zh="您的角色无权安排外访")
    return repo.recent_plans(session, actor.regions)


def plan_cities(session: Session, actor: Actor) -> list[str]:
    """Cities the actor may plan: their regions, or every city with a team."""
    if actor.regions is not None:
        return sorted(actor.regions)
    return sorted({t.city for t in repo.all_teams(session) if t.city})
