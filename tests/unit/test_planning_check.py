"""check.py catches hand-made infeasible plans, and accepts a hand-made feasible one.

Plane travel, one unit = one minute: the office at x = 0, visit A at x = 10 (10 minutes
away), B at x = 20, C at x = 30.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning import (
    Dropped,
    DropReason,
    EuclideanTravel,
    Location,
    Plan,
    PlannedStop,
    PlanRequest,
    Route,
    Team,
    TimeWindow,
    Visit,
    check,
    problems,
)

H = 3600
M = 60
DAY = date(2025, 7, 1)


def at(x: float) -> Location:
    return Location(lat=0.0, lng=x)


TEAM = Team("T1", at(0), at(0), 8 * H, 12 * H, max_visits=2)
REQUEST = PlanRequest(
    DAY,
    (TEAM,),
    (
        Visit("A", at(10), windows=(TimeWindow(9 * H, 10 * H),), service_seconds=30 * M),
        Visit("B", at(20), service_seconds=30 * M, required=True),
        Visit("C", at(30), service_seconds=30 * M),
    ),
    travel=EuclideanTravel(scale=60),
)


def stop(visit_id: str, start: int, arrival: int | None = None) -> PlannedStop:
    return PlannedStop(visit_id, start if arrival is None else arrival, start, start + 30 * M)


def good_plan() -> Plan:
    """Leave 08:50, A at 09:00-09:30, B at 09:40-10:10, back 10:30; C dropped."""
    route = Route(
        "T1",
        depart=8 * H + 50 * M,
        stops=(stop("A", 9 * H), stop("B", 9 * H + 40 * M)),
        back=10 * H + 30 * M,
        distance_m=2400,
        travel_s=40 * M,
    )
    return Plan(DAY, (route,), (Dropped("C", DropReason.NO_CAPACITY),), value=2, seed=0)


def with_route(**kw: object) -> Plan:
    plan = good_plan()
    return replace(plan, routes=(replace(plan.routes[0], **kw),))  # type: ignore[arg-type]


def test_a_feasible_plan_passes() -> None:
    check(good_plan(), REQUEST)
    assert problems(good_plan(), REQUEST) == []


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        pytest.param(
            with_route(stops=(stop("A", 10 * H + 5 * M), stop("B", 10 * H + 45 * M))),
            "visit A: starts at 36300, outside its windows",
            id="late-for-the-window",
        ),
        pytest.param(
            with_route(stops=(stop("A", 9 * H), stop("B", 9 * H + 35 * M))),
            "visit B: starts at 34500, cannot arrive before 34800",
            id="faster-than-travel",
        ),
        pytest.param(
            with_route(depart=7 * H + 30 * M),
            "leaves at 27000, before its shift 28800",
            id="before-shift",
        ),
        pytest.param(
            with_route(back=10 * H + 20 * M),
            "reported back at 37200, cannot be before 37800",
            id="home-too-early",
        ),
        pytest.param(
            with_route(stops=(stop("A", 9 * H), stop("B", 11 * H + 30 * M)), back=12 * H + 20 * M),
            "after shift end 43200",
            id="after-shift",
        ),
        pytest.param(
            replace(good_plan(), dropped=(Dropped("C", DropReason.NO_CAPACITY),) * 2),
            "visit C: appears 2 times",
            id="double-drop",
        ),
        pytest.param(
            with_route(stops=(stop("A", 9 * H), stop("A", 9 * H + 30 * M))),
            "visit A: appears 2 times",
            id="double-visit",
        ),
        pytest.param(
            with_route(
                stops=(stop("A", 9 * H), stop("B", 9 * H + 40 * M), stop("C", 10 * H + 20 * M)),
                back=11 * H + 20 * M,
            ),
            "3 visits > max 2",
            id="over-max-visits",
        ),
        pytest.param(
            replace(
                good_plan(),
                routes=(replace(good_plan().routes[0], stops=(stop("A", 9 * H),)),),
                dropped=(
                    Dropped("B", DropReason.NO_CAPACITY),
                    Dropped("C", DropReason.NO_CAPACITY),
                ),
            ),
            "visit B: required but dropped",
            id="required-dropped",
        ),
        pytest.param(
            replace(good_plan(), dropped=()),
            "visit C: neither planned nor dropped",
            id="visit-forgotten",
        ),
        pytest.param(
            replace(good_plan(), routes=good_plan().routes * 2),
            "team T1: 2 routes",
            id="team-twice",
        ),
        pytest.param(
            with_route(team_id="T9"),
            "route of unknown team T9",
            id="unknown-team",
        ),
        pytest.param(
            with_route(
                stops=(stop("A", 9 * H), PlannedStop("B", 9 * H + 40 * M, 9 * H + 40 * M, 10 * H))
            ),
            "visit B: lasts 1200, not 1800",
            id="short-service",
        ),
    ],
)
def test_infeasible_plans_are_caught(plan: Plan, expected: str) -> None:
    with pytest.raises(PlanInfeasible) as caught:
        check(plan, REQUEST)
    assert any(expected in line for line in caught.value.problems), caught.value.problems
    assert caught.value.code == "plan_infeasible"


def test_over_capacity_and_missing_skills() -> None:
    loaded = replace(
        REQUEST,
        teams=(replace(TEAM, capacity=5),),
        visits=(
            replace(REQUEST.visits[0], demand=3, skills=frozenset({"cantonese"})),
            replace(REQUEST.visits[1], demand=3),
            REQUEST.visits[2],
        ),
    )
    found = problems(good_plan(), loaded)
    assert any("load 6 > capacity 5" in line for line in found)
    assert any("visit A: team lacks skills ['cantonese']" in line for line in found)


def test_visit_ending_after_the_allowed_hours_is_caught() -> None:
    """A 21:45 start with 30 minutes of service ends after 22:00."""
    late = Team("T1", at(0), at(0), 20 * H, 23 * H, max_visits=3)
    request = replace(REQUEST, teams=(late,), visits=(Visit("Z", at(10)),))
    route = Route("T1", 21 * H + 35 * M, (stop("Z", 21 * H + 45 * M),), 22 * H + 25 * M, 1200, 1200)
    found = problems(Plan(DAY, (route,), (), value=1, seed=0), request)
    assert any("visit Z: starts at 78300, outside its windows / allowed hours" in f for f in found)
