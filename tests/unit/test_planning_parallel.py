"""Several seeds in parallel processes: the best of them is kept, infeasibility still raises."""

from __future__ import annotations

from datetime import date

import pytest

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning import Location, PlanRequest, Team, Visit, build, check
from doorstep.planning.parallel import objective, solve_best
from doorstep.planning.solver import solve

H = 3600
BASE = Location(31.23, 121.47)


def _request(required: bool = False, max_visits: int = 4) -> PlanRequest:
    visits = tuple(
        Visit(
            f"v{i}",
            Location(31.20 + 0.007 * i, 121.44 + 0.011 * (i % 4)),
            value=1 + i % 5,
            required=required,
        )
        for i in range(12)
    )
    teams = (
        Team("A", BASE, BASE, 9 * H, 18 * H, max_visits),
        Team("B", BASE, BASE, 12 * H, 21 * H, max_visits),
    )
    return PlanRequest(date(2030, 1, 2), teams, visits)


def test_the_best_seed_wins_and_passes_the_check() -> None:
    request = _request()
    data = build(request)
    best = solve_best(data, 60, [3, 4], iterations=60)
    alone = [solve(data, 60, s, iterations=60) for s in (3, 4)]
    assert objective(best, data) == min(objective(p, data) for p in alone)
    check(best, request)
    assert len(best.planned_ids) == 8  # two teams of four: capacity is short


def test_no_feasible_seed_raises() -> None:
    data = build(_request(required=True, max_visits=2))  # 12 required visits, room for 4
    with pytest.raises(PlanInfeasible) as caught:
        solve_best(data, 60, [0, 1], iterations=20)
    assert caught.value.problems
    with pytest.raises(ValueError, match="seed"):
        solve_best(data, 2, [])
