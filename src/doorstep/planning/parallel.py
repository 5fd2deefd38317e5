"""Solve one day with several seeds at once, one process each, and keep the best plan.

PyVRP's search runs on one core; two seeds on two cores find a better plan in the same
wall-clock time more often than not. Workers are *spawned* (not forked: the caller may be
a threaded web server), so each pays PyVRP's import once; the budget is a deadline shared
by all of them, so the whole call still ends within ``seconds`` plus the start-up.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning.model import RoutingData
from doorstep.planning.plan import Plan

__all__ = ["objective", "solve_best"]


def objective(plan: Plan, data: RoutingData) -> int:
    """The solver's cost of ``plan``: travel cost plus the prize of every visit left out."""
    prize = {stop.visit_id: stop.prize for stop in data.stops}
    per_metre = {v.team_id: v.per_metre for v in data.vehicles}
    per_second = {v.team_id: v.per_second for v in data.vehicles}
    travel = sum(
        r.distance_m * per_metre[r.team_id] + r.travel_s * per_second[r.team_id]
        for r in plan.routes
    )
    return travel + sum(prize.get(visit_id, 0) for visit_id in plan.dropped_ids)


def _one(
    data: RoutingData, deadline: float, seed: int, iterations: int | None
) -> Plan | tuple[str, ...]:
    from doorstep.planning.solver import solve

    try:
        return solve(data, max(0.1, deadline - time.monotonic()), seed, iterations=iterations)
    except PlanInfeasible as exc:  # returned, not raised: its problems survive pickling
        return exc.problems


def solve_best(
    data: RoutingData,
    seconds: float,
    seeds: Sequence[int],
    *,
    iterations: int | None = None,
) -> Plan:
    """The lowest-cost plan of ``solve(data, seconds, seed)`` over ``seeds``, in parallel.

    Raises
    ------
    PlanInfeasible
        When no seed finds a feasible plan.
    """
    if not seeds:
        raise ValueError("at least one seed")
    deadline = time.monotonic() + seconds
    if len(seeds) == 1:
        found = [_one(data, deadline, seeds[0], iterations)]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(seeds), mp_context=context) as pool:
            futures = [pool.submit(_one, data, deadline, s, iterations) for s in seeds]
            found = [f.result() for f in futures]
    plans = [p for p in found if isinstance(p, Plan)]
    if not plans:
        raise PlanInfeasible(next(p for p in found if not isinstance(p, Plan)))
    return min(plans, key=lambda p: (objective(p, data), p.seed))
