"""The planning model: one date, one region, teams and visits -> integer solver data.

`PlanRequest` (request.py, re-exported here with the travel port) holds plain, validated
dataclasses. `build` turns it into `RoutingData`:
integer seconds and metres, time windows clamped to the allowed hours, and the visits no
team could ever serve set aside with their reason. `solver.solve` reads only `RoutingData`;
`solomon.solomon_request` maps a Solomon VRPTW instance onto the same `PlanRequest`, so the
benchmark exercises this very builder.

Conventions
-----------
* A visit's window bounds the *start* of the visit (arrival may be earlier: the team waits).
* Allowed hours (default 08:00-22:00) bound the whole visit: it starts at or after
  ``allowed.start`` and ends at or before ``allowed.end``.
* Objective: ``per_metre * metres + per_second * travel seconds - value_weight * value`` of
  the visits made; optional visits are dropped only when that pays, which with the default
  weights means: when the teams cannot do them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from doorstep.domain.errors import InvalidValue, PlanInfeasible
from doorstep.planning.plan import Dropped, DropReason
from doorstep.planning.request import AllowedHours, PlanRequest, Team, TimeWindow, Visit
from doorstep.planning.travel import EuclideanTravel, GreatCircleTravel, Location, TravelTimes

__all__ = [
    "AllowedHours",
    "CostWeights",
    "EuclideanTravel",
    "GreatCircleTravel",
    "Location",
    "PlanRequest",
    "RoutingData",
    "Stop",
    "Team",
    "TimeWindow",
    "TravelTimes",
    "Vehicle",
    "Visit",
    "build",
    "clamp_windows",
]

MAX_WEIGHT = 10**6
MAX_PRIZE = 10**10
"""Prizes (value times weight) stay far from int64 overflow in the solver's penalties."""
Matrix = npt.NDArray[np.int64]


def _invalid(message: str, message_zh: str) -> InvalidValue:
    return InvalidValue(message, message_zh=message_zh)


@dataclass(frozen=True, slots=True)
class CostWeights:
    """Objective weights, in integer cost units.

    Parameters
    ----------
    per_metre
        Cost of one metre driven (default 1).
    per_second
        Cost of one second of travel (default 0).
    value_weight
        Prize per unit of `Visit.value` (default 100 000, i.e. one point of value is worth
        100 km of driving: visits are dropped for lack of capacity, not for distance).
    """

    per_metre: int = 1
    per_second: int = 0
    value_weight: int = 100_000

    def __post_init__(self) -> None:
        if min(self.per_metre, self.per_second, self.value_weight) < 0:
            raise _invalid("negative cost weight", "成本权重不能为负")
        if max(self.per_metre, self.per_second, self.value_weight) > MAX_WEIGHT:
            raise _invalid(f"cost weight above {MAX_WEIGHT}", f"成本权重不能超过 {MAX_WEIGHT}")


@dataclass(frozen=True, slots=True)
class Stop:
    """A servable visit in solver units; ``point`` indexes `RoutingData.points`."""

    visit_id: str
    point: int
    service: int
    windows: tuple[tuple[int, int], ...]
    load: tuple[int, ...]
    value: int
    prize: int
    required: bool


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A team in solver units; ``forbidden`` holds indexes of stops it lacks the skills for."""

    team_id: str
    start: int
    end: int
    shift_start: int
    shift_end: int
    capacity: tuple[int, ...]
    forbidden: frozenset[int]
    per_metre: int
    per_second: int


@dataclass(frozen=True, slots=True, eq=False)
class RoutingData:
    """Integer solver input. ``durations[i, j]`` seconds and ``distances[i, j]`` metres.

    ``load_dims`` names the load dimensions that can bind ("visits", "demand"); ``excluded``
    lists the visits set aside before solving, with their reasons.
    """

    date: date
    points: tuple[Location, ...]
    durations: Matrix
    distances: Matrix
    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]
    load_dims: tuple[str, ...]
    excluded: tuple[Dropped, ...]


def clamp_windows(visit: Visit, allowed: AllowedHours) -> tuple[tuple[int, int], ...]:
    """Start windows inside the allowed hours (start >= open, start + service <= close), merged."""
    windows = visit.windows or (TimeWindow(allowed.start, allowed.end),)
    latest = allowed.end - visit.service_seconds
    clamped = sorted(
        (max(w.start, allowed.start), min(w.end, latest))
        for w in windows
        if max(w.start, allowed.start) <= min(w.end, latest)
    )
    merged: list[tuple[int, int]] = []
    for early, late in clamped:
        if merged and early <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], late))
        else:
            merged.append((early, late))
    return tuple(merged)


def _matrices(request: PlanRequest, points: Sequence[Location]) -> tuple[Matrix, Matrix]:
    durations_raw, distances_raw = request.travel.matrix(points)
    durations = np.asarray(durations_raw, dtype=np.int64)
    distances = np.asarray(distances_raw, dtype=np.int64)
    n = len(points)
    for name, matrix in (("durations", durations), ("distances", distances)):
        if matrix.shape != (n, n) or (n and int(matrix.min()) < 0):
            raise _invalid(
                f"travel model gave a bad {name} matrix {matrix.shape} for {n} points",
                "出行时间模型返回的矩阵无效",
            )
    return durations, distances


def _reachable(
    window: tuple[int, int], point: int, service: int, team: Team, ends: tuple[int, int], d: Matrix
) -> bool:
    """Could ``team`` (from ``ends[0]`` to ``ends[1]``) alone start in ``window`` at ``point``?"""
    begin = max(team.shift_start + int(d[ends[0], point]), window[0])
    return begin <= window[1] and begin + service + int(d[point, ends[1]]) <= team.shift_end


def _screen(
    visit: Visit, request: PlanRequest, index: dict[Location, int], durations: Matrix
) -> DropReason | tuple[tuple[int, int], ...]:
    """The visit's windows that some eligible team can reach, or why there is none."""
    eligible = [
        t
        for t in request.teams
        if visit.skills <= t.skills
        and t.max_visits >= 1
        and (t.capacity is None or t.capacity >= visit.demand)
    ]
    if not eligible:
        if any(visit.skills <= t.skills for t in request.teams):
            return DropReason.NO_CAPACITY  # skilled teams exist, but none can take its load
        return DropReason.NO_ELIGIBLE_TEAM
    windows = clamp_windows(visit, request.allowed)
    if not windows:
        return DropReason.OUTSIDE_ALLOWED_HOURS
    point, service = index[visit.location], visit.service_seconds
    reachable = tuple(
        w
        for w in windows
        if any(
            _reachable(w, point, service, t, (index[t.start], index[t.end]), durations)
            for t in eligible
        )
    )
    return reachable or DropReason.UNREACHABLE


def build(request: PlanRequest, *, costs: CostWeights | None = None) -> RoutingData:
    """Turn ``request`` into integer `RoutingData` for the solver.

    Raises
    ------
    PlanInfeasible
        When a required visit can never be served (skills, allowed hours, reach).
    InvalidValue
        When the travel model's matrices are malformed or a prize would be too large.
    """
    costs = costs or CostWeights()
    index = _point_index(request)
    durations, distances = _matrices(request, tuple(index))

    kept: list[tuple[Visit, tuple[tuple[int, int], ...]]] = []
    excluded: list[Dropped] = []
    for visit in request.visits:
        screened = _screen(visit, request, index, durations)
        if isinstance(screened, DropReason):
            excluded.append(Dropped(visit.visit_id, screened))
        else:
            kept.append((visit, screened))
    required = {v.visit_id for v in request.visits if v.required}
    if out := [
        f"required visit {x.visit_id}: {x.reason}" for x in excluded if x.visit_id in required
    ]:
        raise PlanInfeasible(out)
    top = max((v.value for v, _ in kept), default=0)
    if top * costs.value_weight > MAX_PRIZE:
        raise _invalid(f"value {top} x weight {costs.value_weight} > {MAX_PRIZE}", "外访价值过大")

    dims = _load_dims(request.teams, [v for v, _ in kept])
    return RoutingData(
        date=request.date,
        points=tuple(index),
        durations=durations,
        distances=distances,
        stops=tuple(_stop(v, w, index, dims, costs) for v, w in kept),
        vehicles=_vehicles(request.teams, [v for v, _ in kept], index, dims, costs),
        load_dims=dims,
        excluded=tuple(excluded),
    )


def _point_index(request: PlanRequest) -> dict[Location, int]:
    """Every distinct place, numbered: team starts and ends first, then the visits."""
    index: dict[Location, int] = {}
    for team in request.teams:
        index.setdefault(team.start, len(index))
        index.setdefault(team.end, len(index))
    for visit in request.visits:
        index.setdefault(visit.location, len(index))
    return index


def _stop(
    v: Visit,
    windows: tuple[tuple[int, int], ...],
    index: dict[Location, int],
    dims: tuple[str, ...],
    costs: CostWeights,
) -> Stop:
    return Stop(
        visit_id=v.visit_id,
        point=index[v.location],
        service=v.service_seconds,
        windows=windows,
        load=tuple(1 if dim == "visits" else v.demand for dim in dims),
        value=v.value,
        prize=0 if v.required else v.value * costs.value_weight,
        required=v.required,
    )


def _vehicles(
    teams: Sequence[Team],
    kept: Sequence[Visit],
    index: dict[Location, int],
    dims: tuple[str, ...],
    costs: CostWeights,
) -> tuple[Vehicle, ...]:
    """A vehicle per team; ``forbidden`` indexes the kept visits it lacks the skills for."""
    total_demand = sum(v.demand for v in kept)
    return tuple(
        Vehicle(
            team_id=t.team_id,
            start=index[t.start],
            end=index[t.end],
            shift_start=t.shift_start,
            shift_end=t.shift_end,
            capacity=tuple(
                t.max_visits if dim == "visits" else _or(t.capacity, total_demand) for dim in dims
            ),
            forbidden=frozenset(i for i, v in enumerate(kept) if not v.skills <= t.skills),
            per_metre=costs.per_metre,
            per_second=costs.per_second,
        )
        for t in teams
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _load_dims(teams: Sequence[Team], visits: Sequence[Visit]) -> tuple[str, ...]:
    """Only the load dimensions that can bind: fewer dimensions, faster search."""
    dims: list[str] = []
    if any(t.max_visits < len(visits) for t in teams):
        dims.append("visits")
    total = sum(v.demand for v in visits)
    if total and any(t.capacity is not None and t.capacity < total for t in teams):
        dims.append("demand")
    return tuple(dims)
