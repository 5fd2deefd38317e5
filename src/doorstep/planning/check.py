"""Independent verification of a plan against its request, in double precision.

Nothing here is shared with the builder or the solver: windows are clamped again, travel
is asked of the request's own travel model, and the plan's reported times are replayed
as floats. A plan passes when every route is a schedule the team can keep:

* each team has at most one route, leaving ``start`` no earlier than ``shift_start`` and
  back at ``end`` no later than ``shift_end``;
* each stop starts no earlier than the previous stop's end plus the travel between them
  (arrival), inside one of the visit's windows and the allowed hours, and ends exactly
  ``service_seconds`` later, inside the allowed hours;
* a team makes at most ``max_visits`` visits, within ``capacity`` when it has one, and
  only visits whose skills it has;
* every visit of the request appears exactly once, planned or dropped; required visits
  are planned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning.model import PlanRequest, Team, Visit
from doorstep.planning.plan import Plan, Route
from doorstep.planning.travel import Location

__all__ = ["check", "problems"]

TOLERANCE = 1e-6


def check(plan: Plan, request: PlanRequest, *, tolerance: float = TOLERANCE) -> None:
    """Raise `PlanInfeasible` listing every broken constraint; return quietly otherwise."""
    found = problems(plan, request, tolerance=tolerance)
    if found:
        raise PlanInfeasible(found)


def problems(plan: Plan, request: PlanRequest, *, tolerance: float = TOLERANCE) -> list[str]:
    """Every broken constraint of ``plan``, one line each (empty: the plan is feasible)."""
    teams = {t.team_id: t for t in request.teams}
    visits = {v.visit_id: v for v in request.visits}
    found: list[str] = []
    if plan.date != request.date:
        found.append(f"plan is for {plan.date}, request for {request.date}")

    seen = Counter(plan.planned_ids) + Counter(plan.dropped_ids)
    for visit_id, count in sorted(seen.items()):
        if visit_id not in visits:
            found.append(f"visit {visit_id}: not in the request")
        elif count > 1:
            found.append(f"visit {visit_id}: appears {count} times")
    for visit_id in visits:
        if visit_id not in seen:
            found.append(f"visit {visit_id}: neither planned nor dropped")
    for visit_id in sorted(set(plan.dropped_ids) & visits.keys()):
        if visits[visit_id].required:
            found.append(f"visit {visit_id}: required but dropped")

    points = sorted(
        {p for t in request.teams for p in (t.start, t.end)} | {v.location for v in request.visits},
        key=lambda p: (p.lat, p.lng),
    )
    where = {p: i for i, p in enumerate(points)}
    raw, _ = request.travel.matrix(points)
    travel = [[float(x) for x in row] for row in raw]

    team_routes = Counter(route.team_id for route in plan.routes)
    for team_id, count in team_routes.items():
        if count > 1:
            found.append(f"team {team_id}: {count} routes")
    for route in plan.routes:
        team = teams.get(route.team_id)
        if team is None:
            found.append(f"route of unknown team {route.team_id}")
            continue
        found += _route_problems(route, team, visits, request, travel, where, tolerance)
    return found


def _windows(visit: Visit, request: PlanRequest) -> list[tuple[float, float]]:
    """Start windows after the allowed-hours clamp (visit inside the allowed hours)."""
    allowed = request.allowed
    spans = [(w.start, w.end) for w in visit.windows] or [(allowed.start, allowed.end)]
    return [
        (float(max(a, allowed.start)), float(min(b, allowed.end - visit.service_seconds)))
        for a, b in spans
    ]


def _route_problems(
    route: Route,
    team: Team,
    visits: dict[str, Visit],
    request: PlanRequest,
    travel: Sequence[Sequence[float]],
    where: dict[Location, int],
    tol: float,
) -> list[str]:
    name = f"team {team.team_id}"
    found: list[str] = []
    if route.depart < team.shift_start - tol:
        found.append(f"{name}: leaves at {route.depart}, before its shift {team.shift_start}")
    stops = [(s, visits[s.visit_id]) for s in route.stops if s.visit_id in visits]
    if len(stops) > team.max_visits:
        found.append(f"{name}: {len(stops)} visits > max {team.max_visits}")
    load = sum(v.demand for _, v in stops)
    if team.capacity is not None and load > team.capacity:
        found.append(f"{name}: load {load} > capacity {team.capacity}")

    clock = float(route.depart)
    here = where[team.start]
    for stop, visit in stops:
        label = f"{name}, visit {visit.visit_id}"
        if not visit.skills <= team.skills:
            found.append(f"{label}: team lacks skills {sorted(visit.skills - team.skills)}")
        there = where[visit.location]
        arrival = clock + travel[here][there]
        start = float(stop.start)
        if start < arrival - tol:
            found.append(f"{label}: starts at {stop.start}, cannot arrive before {arrival:.3f}")
        if not any(a - tol <= start <= b + tol for a, b in _windows(visit, request)):
            found.append(f"{label}: starts at {stop.start}, outside its windows / allowed hours")
        if abs(stop.end - start - visit.service_seconds) > tol:
            found.append(f"{label}: lasts {stop.end - stop.start}, not {visit.service_seconds}")
        if not arrival - tol <= stop.arrival <= start + tol:
            found.append(f"{label}: reported arrival {stop.arrival} not in [{arrival:.3f}, start]")
        clock, here = float(stop.end), there
    home = clock + travel[here][where[team.end]]
    if route.back < home - tol:
        found.append(f"{name}: reported back at {route.back}, cannot be before {home:.3f}")
    if max(home, float(route.back)) > team.shift_end + tol:
        found.append(
            f"{name}: back at {max(home, route.back):.3f}, after shift end {team.shift_end}"
        )
    return found
