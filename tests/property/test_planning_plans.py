"""Every plan the solver returns passes check.py, also after removing a team or adding a visit."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.planning import (
    Location,
    PlanRequest,
    Team,
    TimeWindow,
    Visit,
    build,
    check,
)
from doorstep.planning.solver import solve

H = 3600
DAY = date(2025, 7, 1)
FAST = {"seconds": 60.0, "iterations": 200}
"""Bounded by iterations; the time budget is only a bound that should never bind."""
SKILLS = ("cantonese", "wenzhou")

points = st.builds(
    Location,
    lat=st.floats(31.15, 31.30, allow_nan=False),
    lng=st.floats(121.40, 121.55, allow_nan=False),
)
skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=1)


@st.composite
def windows(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    starts = draw(st.lists(st.integers(7, 20), max_size=2, unique=True))
    return tuple(TimeWindow(s * H, s * H + draw(st.integers(1, 4)) * 1800) for s in sorted(starts))


@st.composite
def teams(draw: st.DrawFn, team_id: str) -> Team:
    start = draw(st.integers(7, 11))
    return Team(
        team_id,
        start=draw(points),
        end=draw(points),
        shift_start=start * H,
        shift_end=(start + draw(st.integers(3, 10))) * H,
        max_visits=draw(st.integers(1, 6)),
        skills=draw(st.frozensets(st.sampled_from(SKILLS))),
    )


@st.composite
def visits(draw: st.DrawFn, visit_id: str) -> Visit:
    return Visit(
        visit_id,
        draw(points),
        service_seconds=draw(st.sampled_from([900, 1800, 3600])),
        windows=draw(windows()),
        value=draw(st.integers(0, 20)),
        skills=draw(skill_sets),
    )


@st.composite
def requests(draw: st.DrawFn) -> PlanRequest:
    n_teams = draw(st.integers(1, 3))
    n_visits = draw(st.integers(1, 10))
    return PlanRequest(
        DAY,
        tuple(draw(teams(f"T{k}")) for k in range(n_teams)),
        tuple(draw(visits(f"V{i}")) for i in range(n_visits)),
    )


def plan_and_check(request: PlanRequest, seed: int) -> None:
    plan = solve(build(request), seed=seed, **FAST)
    check(plan, request)
    assert sorted(plan.planned_ids + plan.dropped_ids) == sorted(v.visit_id for v in request.visits)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(), extra=visits("X"), drop=st.integers(0, 2), seed=st.integers(0, 99))
def test_plans_pass_the_check_after_removing_a_team_or_adding_a_visit(
    request: PlanRequest, extra: Visit, drop: int, seed: int
) -> None:
    plan_and_check(request, seed)
    fewer = (
        request.teams[: drop % len(request.teams)] + request.teams[drop % len(request.teams) + 1 :]
    )
    plan_and_check(PlanRequest(DAY, fewer, request.visits), seed)
    plan_and_check(PlanRequest(DAY, request.teams, (*request.visits, extra)), seed)
