"""Solve `RoutingData` with PyVRP (the only module that imports pyvrp, pinned to 0.14).

Mapping
-------
* every distinct team start/end point -> a PyVRP depot; each team -> a vehicle type
  (identical teams share one type with ``num_available = n``, which helps the search);
* every stop -> a client with its own location (so skills can be forbidden per stop);
  a stop with several windows -> one client per window in a mutually exclusive group;
* optional stops carry their prize: PyVRP then maximises prizes minus travel cost;
* skills -> one routing profile per distinct forbidden set, with prohibitive edges into
  the stops that a team may not serve.

Reproducibility: with ``iterations`` the plan is a function of ``(data, seed)``; with only
``seconds`` the search stops on the wall clock, so a slower machine may stop earlier.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyvrp
from pyvrp import PenaltyParams
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning.model import Matrix, RoutingData, Vehicle
from doorstep.planning.plan import Dropped, DropReason, Plan, PlannedStop, Route

__all__ = ["CpuTime", "StopRule", "solve"]

FORBIDDEN_DISTANCE = 1 << 38
"""Distance of an edge into a stop the team lacks skills for: more than any prize."""


@dataclass(frozen=True, slots=True)
class _Translation:
    """How PyVRP indexes map back to the routing data."""

    problem: pyvrp.ProblemData
    client_stop: tuple[int, ...]
    """PyVRP client index -> stop index."""
    type_teams: tuple[tuple[str, ...], ...]
    """PyVRP vehicle type index -> team ids, in order."""


def _type_key(vehicle: Vehicle) -> tuple[object, ...]:
    return (
        vehicle.start,
        vehicle.end,
        vehicle.shift_start,
        vehicle.shift_end,
        vehicle.capacity,
        vehicle.forbidden,
        vehicle.per_metre,
        vehicle.per_second,
    )


def _clients(
    data: RoutingData, n_depots: int
) -> tuple[list[pyvrp.Client], list[pyvrp.ClientGroup], list[int]]:
    """One client per (stop, window); a stop with several windows is a group of them."""
    clients: list[pyvrp.Client] = []
    groups: list[pyvrp.ClientGroup] = []
    client_stop: list[int] = []
    for s_idx, stop in enumerate(data.stops):
        group: int | None = None
        if len(stop.windows) > 1:
            group = len(groups)
            groups.append(pyvrp.ClientGroup(required=stop.required, name=stop.visit_id))
        for early, late in stop.windows:
            if group is not None:
                groups[group].add_client(len(clients))
            clients.append(
                pyvrp.Client(
                    location=n_depots + s_idx,
                    delivery=list(stop.load),
                    service_duration=stop.service,
                    tw_early=early,
                    tw_late=late,
                    prize=stop.prize,
                    required=stop.required and group is None,
                    group=group,
                    name=stop.visit_id,
                )
            )
            client_stop.append(s_idx)
    return clients, groups, client_stop


def _profiles(
    data: RoutingData, locations: list[int], n_depots: int
) -> tuple[dict[frozenset[int], int], list[Any], list[Any]]:
    """One distance and duration matrix per distinct set of forbidden stops.

    An edge into a forbidden stop costs more than any prize, and takes so long that the
    team would be back after every shift. (Not longer: time warp times the penalty must
    stay inside int64.) PyVRP's stub types matrices as ``ndarray[int]``, hence ``Any``.
    """
    grid = np.ix_(locations, locations)
    base_dist: Matrix = data.distances[grid]
    base_dur: Matrix = data.durations[grid]
    horizon = max(v.shift_end for v in data.vehicles)
    forbidden_sets = sorted({v.forbidden for v in data.vehicles}, key=sorted)
    distances: list[Any] = []
    durations: list[Any] = []
    for forbidden in forbidden_sets:
        dist, dur = base_dist.copy(), base_dur.copy()
        cols = [n_depots + s for s in forbidden]
        dist[:, cols] = FORBIDDEN_DISTANCE
        dur[:, cols] = horizon + 1
        np.fill_diagonal(dist, 0)
        np.fill_diagonal(dur, 0)
        distances.append(dist)
        durations.append(dur)
    return {f: i for i, f in enumerate(forbidden_sets)}, distances, durations


def _translate(data: RoutingData) -> _Translation:
    """PyVRP data: depots first (one per distinct team start/end point), one location a stop."""
    depot_points = sorted({p for v in data.vehicles for p in (v.start, v.end)})
    depot_of = {p: i for i, p in enumerate(depot_points)}
    locations = depot_points + [s.point for s in data.stops]
    n_depots = len(depot_points)
    clients, groups, client_stop = _clients(data, n_depots)
    profile_of, distances, durations = _profiles(data, locations, n_depots)

    by_type: dict[tuple[object, ...], list[Vehicle]] = defaultdict(list)
    for vehicle in data.vehicles:
        by_type[_type_key(vehicle)].append(vehicle)
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=len(same),
            capacity=list(same[0].capacity),
            start_depot=depot_of[same[0].start],
            end_depot=depot_of[same[0].end],
            tw_early=same[0].shift_start,
            tw_late=same[0].shift_end,
            unit_distance_cost=same[0].per_metre,
            unit_duration_cost=same[0].per_second,
            profile=profile_of[same[0].forbidden],
            name=same[0].team_id,
        )
        for same in by_type.values()
    ]
    problem = pyvrp.ProblemData(
        locations=[pyvrp.Location(x=data.points[p].lng, y=data.points[p].lat) for p in locations],
        clients=clients,
        depots=[pyvrp.Depot(location=i) for i in range(n_depots)],
        vehicle_types=vehicle_types,
        distance_matrices=distances,
        duration_matrices=durations,
        groups=groups,
    )
    type_teams = tuple(tuple(v.team_id for v in same) for same in by_type.values())
    return _Translation(problem, tuple(client_stop), type_teams)


class StopRule(Protocol):
    """An extra stopping rule, PyVRP's protocol: called with the best cost each iteration."""

    def __call__(self, best_cost: float) -> bool: ...


class CpuTime:
    """Stop after ``seconds`` of this process's CPU time (fair on a busy, shared machine)."""

    def __init__(self, seconds: float) -> None:
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self._seconds = seconds
        self._began: float | None = None

    def __call__(self, best_cost: float) -> bool:
        del best_cost
        if self._began is None:
            self._began = time.process_time()
        return time.process_time() - self._began >= self._seconds


def _stop_criterion(
    seconds: float, iterations: int | None, stop: StopRule | None
) -> StoppingCriterion:
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be > 0, got {seconds}")
    criteria: list[StoppingCriterion] = [MaxRuntime(seconds)]
    if iterations is not None:
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        criteria.insert(0, MaxIterations(iterations))
    if stop is not None:
        criteria.append(stop)
    return criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)


def _params(data: RoutingData) -> pyvrp.SolveParams:
    """Penalties that start well above any prize.

    PyVRP starts its penalty per unit of excess load and per second of time warp midway
    between ``min_penalty`` and ``max_penalty``. Were that below a visit's prize, squeezing
    one more valuable visit in (a little late, a little over the limit) would look cheaper
    than dropping it, and the search could end with no feasible plan.
    """
    top_prize = max((s.prize for s in data.stops), default=0)
    default = PenaltyParams()
    return pyvrp.SolveParams(
        penalty=PenaltyParams(max_penalty=max(default.max_penalty, 10.0 * top_prize))
    )


def solve(
    data: RoutingData,
    seconds: float = 10.0,
    seed: int = 0,
    *,
    iterations: int | None = None,
    stop: StopRule | None = None,
) -> Plan:
    """Plan the day: routes that maximise planned value minus travel cost.

    Parameters
    ----------
    data
        Output of `model.build`.
    seconds
        Wall-clock limit of the search.
    seed
        Seed of PyVRP's random number stream.
    iterations
        Optional iteration limit; when it binds before ``seconds``, the plan is reproducible.
    stop
        Optional extra stopping rule (e.g. `CpuTime`); the search ends at the first rule met.

    Raises
    ------
    PlanInfeasible
        When no plan serves every required visit inside windows, shifts and limits.
    """
    if not data.stops or not data.vehicles:
        return _empty(data, seed)
    tr = _translate(data)
    result = pyvrp.solve(
        tr.problem,
        _stop_criterion(seconds, iterations, stop),
        seed=seed,
        collect_stats=False,
        params=_params(data),
    )
    best = result.best
    if not (best.is_feasible() and best.is_complete()):
        raise PlanInfeasible(
            [
                "no plan serves every required visit within its windows, the teams' shifts "
                "and their visit limits",
            ]
        )

    used_by_type: dict[int, int] = defaultdict(int)
    routes: list[Route] = []
    for pv_route in best.routes():
        vtype = pv_route.vehicle_type()
        routes.append(_route(pv_route, tr.type_teams[vtype][used_by_type[vtype]], tr, data))
        used_by_type[vtype] += 1
    visit_stop = {stop.visit_id: i for i, stop in enumerate(data.stops)}
    planned = {visit_stop[s.visit_id] for route in routes for s in route.stops}
    dropped = list(data.excluded) + [
        Dropped(stop.visit_id, DropReason.NO_CAPACITY)
        for i, stop in enumerate(data.stops)
        if i not in planned
    ]
    return Plan(
        date=data.date,
        routes=tuple(sorted(routes, key=lambda r: r.team_id)),
        dropped=tuple(dropped),
        value=sum(data.stops[i].value for i in planned),
        seed=seed,
    )


def _route(pv_route: pyvrp.Route, team_id: str, tr: _Translation, data: RoutingData) -> Route:
    """PyVRP's scheduled route as the team's day, in the routing data's units."""
    stops = tuple(
        PlannedStop(
            visit_id=data.stops[tr.client_stop[act.idx]].visit_id,
            arrival=act.start_time - act.wait_duration,
            start=act.start_time,
            end=act.end_time,
        )
        for act in pv_route.schedule()
        if act.is_client()
    )
    return Route(
        team_id=team_id,
        depart=pv_route.start_time(),
        stops=stops,
        back=pv_route.end_time(),
        distance_m=pv_route.distance(),
        travel_s=pv_route.travel_duration(),
    )


def _empty(data: RoutingData, seed: int) -> Plan:
    required = [s.visit_id for s in data.stops if s.required]
    if required:
        raise PlanInfeasible([f"required visit {v}: no team" for v in required])
    dropped = list(data.excluded) + [
        Dropped(s.visit_id, DropReason.NO_CAPACITY) for s in data.stops
    ]
    return Plan(date=data.date, routes=(), dropped=tuple(dropped), value=0, seed=seed)
