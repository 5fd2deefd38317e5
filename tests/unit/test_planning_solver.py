"""The solver: feasible plans that check.py accepts, value-based drops, reproducibility."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning import (
    DropReason,
    Location,
    PlanRequest,
    Team,
    TimeWindow,
    Visit,
    build,
    check,
)
from doorstep.planning.solomon import read_solomon, solomon_request
from doorstep.planning.solver import CpuTime, solve

H = 3600
DAY = date(2025, 7, 1)
OFFICE = Location(31.2304, 121.4737)  # People's Square, Shanghai
SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "bench" / "solomon" / "txt"
needs_solomon = pytest.mark.skipif(
    not SOLOMON.is_dir(), reason=f"no Solomon instances at {SOLOMON}"
)
FAST = {"seconds": 60.0, "iterations": 300}
"""Bounded by iterations: the time budget is only a bound that should never bind, so the
plan does not depend on how busy the machine is."""


def near(km_north: float, km_east: float) -> Location:
    """A point ``km_north`` and ``km_east`` of the office."""
    lat = OFFICE.lat + km_north / 111.195
    lng = OFFICE.lng + km_east / (111.195 * math.cos(math.radians(OFFICE.lat)))
    return Location(lat, lng)


def team(team_id: str, **kw: object) -> Team:
    fields: dict[str, object] = {
        "start": OFFICE,
        "end": OFFICE,
        "shift_start": 9 * H,
        "shift_end": 18 * H,
        "max_visits": 6,
    }
    fields.update(kw)
    return Team(team_id, **fields)  # type: ignore[arg-type]


def city(n: int = 10, teams: int = 2) -> PlanRequest:
    """``n`` visits on a ring 3-6 km around the office, every third one in a window."""
    visits = []
    for i in range(n):
        angle = 2 * math.pi * i / n
        radius = 3 + 3 * (i % 2)
        windows = (TimeWindow((10 + i % 6) * H, (12 + i % 6) * H),) if i % 3 == 0 else ()
        visits.append(
            Visit(
                f"V{i:02d}",
                near(radius * math.sin(angle), radius * math.cos(angle)),
                windows=windows,
                value=1 + i,
            )
        )
    return PlanRequest(DAY, tuple(team(f"T{k}") for k in range(teams)), tuple(visits))


def test_plan_is_feasible_and_passes_the_independent_check() -> None:
    request = city()
    plan = solve(build(request), **FAST)
    check(plan, request)
    assert sorted(plan.planned_ids) == [v.visit_id for v in request.visits]
    assert not plan.dropped
    assert plan.value == sum(v.value for v in request.visits)
    assert plan.distance_m == sum(r.distance_m for r in plan.routes) > 0
    for route in plan.routes:
        assert route.depart >= 9 * H
        assert route.back <= 18 * H
        assert 1 <= len(route.stops) <= 6


def test_short_capacity_keeps_the_higher_value_visits() -> None:
    """One team, three visits a day: the three most valuable of six are planned."""
    request = city(n=6, teams=1)
    request = PlanRequest(DAY, (team("T0", max_visits=3),), request.visits)
    plan = solve(build(request), **FAST)
    check(plan, request)
    assert sorted(plan.planned_ids) == ["V03", "V04", "V05"]  # values 4, 5, 6
    assert {d.visit_id: d.reason for d in plan.dropped} == {
        "V00": DropReason.NO_CAPACITY,
        "V01": DropReason.NO_CAPACITY,
        "V02": DropReason.NO_CAPACITY,
    }


def test_short_hours_also_drop_by_value() -> None:
    """A 3-hour shift fits only a few 30-minute visits; the required one is always kept."""
    visits = tuple(Visit(f"V{i}", near(2, i - 3.0), value=10 * i) for i in range(7))
    required = Visit("R", near(-2, 0), value=0, required=True)
    request = PlanRequest(DAY, (team("T0", shift_end=12 * H),), (*visits, required))
    plan = solve(build(request), **FAST)
    check(plan, request)
    planned = set(plan.planned_ids)
    assert "R" in planned
    kept_values = sorted(v.value for v in visits if v.visit_id in planned)
    dropped_values = sorted(v.value for v in visits if v.visit_id not in planned)
    assert dropped_values
    assert kept_values
    assert max(dropped_values) < min(kept_values)


def test_visits_start_and_end_inside_the_allowed_hours() -> None:
    """A team on shift from 06:00 to 23:00 still visits only between 08:00 and 22:00."""
    early = team("T0", shift_start=6 * H, shift_end=23 * H)
    visits = (
        Visit("dawn", near(1, 1), windows=(TimeWindow(6 * H, 9 * H),)),
        Visit("night", near(1, -1), windows=(TimeWindow(21 * H, 23 * H),)),
        Visit("any", near(-1, 1)),
    )
    request = PlanRequest(DAY, (early,), visits)
    plan = solve(build(request), **FAST)
    check(plan, request)
    stops = {s.visit_id: s for r in plan.routes for s in r.stops}
    assert set(stops) == {"dawn", "night", "any"}
    for stop in stops.values():
        assert stop.start >= 8 * H
        assert stop.end <= 22 * H
    assert stops["night"].start <= 22 * H - 1800


def test_several_windows_and_skills() -> None:
    """Skilled visits go to the only skilled team; the busy morning pushes W to its 2nd window."""
    wenzhou = frozenset({"wenzhou"})
    teams = (team("plain"), team("dialect", skills=wenzhou))
    visits = (
        Visit(
            "W",
            near(3, 3),
            windows=(TimeWindow(10 * H, 11 * H), TimeWindow(15 * H, 16 * H)),
            skills=wenzhou,
            required=True,
        ),
        Visit(
            "B",
            near(-3, 3),
            service_seconds=3 * H,
            windows=(TimeWindow(9 * H + 1800, 10 * H),),
            skills=wenzhou,
            required=True,
        ),
        Visit("P", near(-3, -3)),
    )
    request = PlanRequest(DAY, teams, visits)
    data = build(request)
    assert len(data.stops[0].windows) == 2
    plan = solve(data, **FAST)
    check(plan, request)
    routes = {r.team_id: [s.visit_id for s in r.stops] for r in plan.routes}
    assert [v for v in routes["dialect"] if v != "P"] == ["B", "W"]
    w = next(s for r in plan.routes for s in r.stops if s.visit_id == "W")
    assert 15 * H <= w.start <= 16 * H


def test_required_visits_that_do_not_fit_raise() -> None:
    """Two required two-hour visits in the same hour, one team: no lawful plan."""
    window = (TimeWindow(10 * H, 11 * H),)
    visits = tuple(
        Visit(f"R{i}", near(1, i), service_seconds=2 * H, windows=window, required=True)
        for i in range(2)
    )
    with pytest.raises(PlanInfeasible):
        solve(build(PlanRequest(DAY, (team("T0"),), visits)), **FAST)


def test_same_seed_same_plan() -> None:
    data = build(city(n=14))
    first = solve(data, seconds=60.0, seed=7, iterations=500)
    again = solve(data, seconds=60.0, seed=7, iterations=500)
    assert first == again


def test_an_injected_stop_rule_ends_the_search() -> None:
    calls: list[float] = []

    def first_call(best_cost: float) -> bool:
        calls.append(best_cost)
        return True

    request = city(n=6)
    plan = solve(build(request), seconds=60.0, stop=first_call)
    check(plan, request)
    assert len(calls) == 1


def test_cpu_time_rule_counts_this_process_cpu_seconds() -> None:
    rule = CpuTime(0.05)
    assert not rule(0.0)
    spins = 0
    while not rule(0.0):
        spins += sum(range(1000)) > 0
    assert spins > 0
    with pytest.raises(ValueError, match="seconds must be > 0"):
        CpuTime(0)


def test_no_team_or_no_visit_gives_an_empty_plan() -> None:
    request = city(n=3)
    nobody = PlanRequest(DAY, (), request.visits)
    plan = solve(build(nobody), **FAST)
    check(plan, nobody)
    assert not plan.routes
    assert len(plan.dropped) == 3
    idle = PlanRequest(DAY, request.teams, ())
    assert solve(build(idle), **FAST).routes == ()


@needs_solomon
def test_solomon_c101_reaches_its_best_known_distance() -> None:
    instance = read_solomon(SOLOMON / "C101.txt")
    request = solomon_request(instance, scale=1000)
    plan = solve(build(request), seed=1, **FAST)  # C101 reaches it within 200 iterations
    check(plan, request)
    assert len(plan.routes) == 10
    assert 828.93 <= plan.distance_m / 1000 <= 828.94 * 1.005  # best known: 828.94
