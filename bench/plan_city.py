"""Benchmark: plan one realistic city day (more visits than the teams can make).

    python bench/plan_city.py [--visits 300] [--teams 20] [--budgets 10,60] [--seed 1]
                              [--workers 2] [--baseline ortools|none] [--json FILE]

The day: visits around eight Shanghai districts (centre +- ~1.5 km), 30-45 minutes at the
door; windows mixed like the product makes them: half all-day (allowed hours 08:00-22:00),
a quarter a work address (09:00-18:00), 15 % evening only (18:00-21:00, the borrower is
home after work), 10 % a borrower-booked two-hour slot. Value 1-10 (the case priority),
3 % required. Twenty teams of two leave one of three offices; half work 09:00-18:00, half
12:00-21:00, at most 8 visits each, so the planner chooses by value. Travel:
`GreatCircleTravel` (detour 1.3, 25 km/h). Everything goes through the product's path:
`build` -> `solver.solve` -> `check.problems`.

For each budget (total wall-clock seconds, building the model and starting the workers
included) the same day is solved by `planning.parallel.solve_best` with ``--workers`` seeds
in parallel, one process per core, keeping the better plan (``DOORSTEP_PLAN_WORKERS``
does the same in the product).
Printed per budget: total cost (metres driven + the prize of every visit left out, the
solver's objective), km per visit, visits made and dropped (by reason), utilisation (drive
and door time over the shift, mean over the teams that go out), wall seconds; then the gap
of each budget's cost to the largest budget's. ``--baseline ortools`` also solves the day
with OR-Tools (GUIDED_LOCAL_SEARCH from PARALLEL_CHEAPEST_INSERTION) at the first budget.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from doorstep.planning import (
    CostWeights,
    Dropped,
    DropReason,
    Location,
    Plan,
    PlannedStop,
    PlanRequest,
    Route,
    RoutingData,
    Team,
    TimeWindow,
    Visit,
    build,
)
from doorstep.planning import problems as find_problems
from doorstep.planning.parallel import solve_best

H = 3600
DAY = date(2025, 7, 1)
COSTS = CostWeights()


DISTRICTS = {
    "黄浦区": (31.2317, 121.4846),
    "徐汇区": (31.1885, 121.4365),
    "长宁区": (31.2204, 121.4246),
    "静安区": (31.2290, 121.4480),
    "普陀区": (31.2495, 121.3970),
    "虹口区": (31.2646, 121.5050),
    "杨浦区": (31.2596, 121.5260),
    "浦东新区": (31.2215, 121.5440),
}


def _near(lat: float, lng: float, rng: random.Random, km: float) -> Location:
    north, east = rng.gauss(0, km), rng.gauss(0, km)
    return Location(
        round(lat + north / 111.195, 6),
        round(lng + east / (111.195 * math.cos(math.radians(lat))), 6),
    )


def city_day(visits: int, teams: int, seed: int) -> PlanRequest:
    rng = random.Random(seed)
    offices = [_near(*DISTRICTS[d], rng, 0.3) for d in ("黄浦区", "徐汇区", "浦东新区")]
    team_list = []
    for k in range(teams):
        begin = 9 if k % 2 == 0 else 12
        office = offices[k % len(offices)]
        team_list.append(Team(f"T{k:02d}", office, office, begin * H, (begin + 9) * H, 8))
    centres = list(DISTRICTS.values())
    visit_list = []
    for i in range(visits):
        kind = rng.random()
        windows: tuple[TimeWindow, ...] = ()
        if kind < 0.25:
            windows = (TimeWindow(9 * H, 18 * H),)  # a work address
        elif kind < 0.40:
            windows = (TimeWindow(18 * H, 21 * H),)  # evening only
        elif kind < 0.50:
            start = rng.randint(9, 19) * H
            windows = (TimeWindow(start, start + 2 * H),)  # a booked slot
        visit_list.append(
            Visit(
                f"V{i:04d}",
                _near(*rng.choice(centres), rng, 1.5),
                service_seconds=rng.choice((1800, 1800, 2700)),
                windows=windows,
                value=rng.randint(1, 10),
                required=rng.random() < 0.03,
            )
        )
    return PlanRequest(DAY, tuple(team_list), tuple(visit_list))


# --- solvers --------------------------------------------------------------------------------


def run_ortools(request: PlanRequest, seconds: float, seed: int, opt: str) -> tuple[Plan, float]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    del seed
    began = time.perf_counter()
    data = build(request, costs=COSTS)
    depots = sorted({p for v in data.vehicles for p in (v.start, v.end)})
    nodes = depots + [s.point for s in data.stops]
    n_dep = len(depots)
    dist = data.distances[nodes][:, nodes]
    service = [0] * n_dep + [s.service for s in data.stops]
    travel = data.durations[nodes][:, nodes] + [[x] for x in service]
    manager = pywrapcp.RoutingIndexManager(
        len(nodes),
        len(data.vehicles),
        [depots.index(v.start) for v in data.vehicles],
        [depots.index(v.end) for v in data.vehicles],
    )
    routing = pywrapcp.RoutingModel(manager)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(dist.tolist()))
    horizon = max(v.shift_end for v in data.vehicles)
    must = 10 * (max(s.prize for s in data.stops) + int(dist.max()) * len(nodes))
    routing.AddDimension(
        routing.RegisterTransitMatrix(travel.tolist()), horizon, horizon, False, "T"
    )
    time_dim = routing.GetDimensionOrDie("T")
    for s_idx, stop in enumerate(data.stops):
        index = manager.NodeToIndex(n_dep + s_idx)
        cumul = time_dim.CumulVar(index)
        cumul.SetRange(stop.windows[0][0], stop.windows[-1][1])
        for (_, late), (early, _) in zip(stop.windows, stop.windows[1:], strict=False):
            cumul.RemoveInterval(late + 1, early - 1)
        # Required visits may be skipped only at a prohibitive price: without that way out
        # PATH_CHEAPEST_ARC may find no first solution at all. A skip fails the check.
        routing.AddDisjunction([index], must if stop.required else stop.prize)
        for k, vehicle in enumerate(data.vehicles):
            if s_idx in vehicle.forbidden:  # the team lacks a skill the visit needs
                routing.VehicleVar(index).RemoveValue(k)
    for k, vehicle in enumerate(data.vehicles):
        for end in (routing.Start(k), routing.End(k)):
            time_dim.CumulVar(end).SetRange(vehicle.shift_start, vehicle.shift_end)
    for d, dim in enumerate(data.load_dims):
        loads = [0] * n_dep + [s.load[d] for s in data.stops]
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(loads),
            0,
            [v.capacity[d] for v in data.vehicles],
            True,
            dim,
        )
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, opt)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    orders: dict[str, list[int]] = {}
    if solution is not None:
        for k, vehicle in enumerate(data.vehicles):
            index = solution.Value(routing.NextVar(routing.Start(k)))
            order = []
            while not routing.IsEnd(index):
                order.append(manager.IndexToNode(index) - n_dep)
                index = solution.Value(routing.NextVar(index))
            if order:
                orders[vehicle.team_id] = order
    return _schedule(data, orders), time.perf_counter() - began


def _schedule(data: RoutingData, orders: dict[str, list[int]]) -> Plan:
    """Earliest-start schedule of each team's stop order (the window it can first make)."""
    routes = []
    for vehicle in data.vehicles:
        order = orders.get(vehicle.team_id)
        if not order:
            continue
        here, clock, stops = vehicle.start, vehicle.shift_start, []
        metres = seconds = 0
        for s_idx in order:
            stop = data.stops[s_idx]
            arrival = clock + int(data.durations[here, stop.point])
            start = next(
                (max(arrival, a) for a, b in stop.windows if max(arrival, a) <= b), arrival
            )
            stops.append(PlannedStop(stop.visit_id, arrival, start, start + stop.service))
            metres += int(data.distances[here, stop.point])
            seconds += int(data.durations[here, stop.point])
            here, clock = stop.point, start + stop.service
        back = clock + int(data.durations[here, vehicle.end])
        metres += int(data.distances[here, vehicle.end])
        seconds += int(data.durations[here, vehicle.end])
        routes.append(
            Route(vehicle.team_id, vehicle.shift_start, tuple(stops), back, metres, seconds)
        )
    planned = {s for order in orders.values() for s in order}
    dropped = list(data.excluded) + [
        Dropped(s.visit_id, DropReason.NO_CAPACITY)
        for i, s in enumerate(data.stops)
        if i not in planned
    ]
    value = sum(data.stops[i].value for i in planned)
    return Plan(data.date, tuple(routes), tuple(dropped), value, seed=0)


def total_cost(plan: Plan, request: PlanRequest) -> int:
    """The solver's objective: metres driven plus the prize of every visit left out."""
    values = {v.visit_id: v.value for v in request.visits}
    dropped = sum(values[v] for v in plan.dropped_ids)
    return plan.distance_m * COSTS.per_metre + dropped * COSTS.value_weight


def utilisation(plan: Plan, request: PlanRequest) -> float:
    """Drive and door time over the shift, mean over the teams that go out."""
    teams = {t.team_id: t for t in request.teams}
    shares = [
        (r.travel_s + sum(s.end - s.start for s in r.stops))
        / (teams[r.team_id].shift_end - teams[r.team_id].shift_start)
        for r in plan.routes
    ]
    return sum(shares) / len(shares) if shares else 0.0


def _ortools(args: tuple[int, int, int, float]) -> Plan:
    visits, teams, day_seed, seconds = args
    plan, _ = run_ortools(
        city_day(visits, teams, day_seed), seconds, 0, "PARALLEL_CHEAPEST_INSERTION"
    )
    return plan


MARGIN = 0.5
"""Seconds kept from each budget for collecting the workers' plans and stopping them."""


def _row(
    label: str, budget: float, plan: Plan, request: PlanRequest, wall: float, seed: int
) -> dict[str, Any]:
    problems = find_problems(plan, request)  # what check() would raise
    made = len(plan.planned_ids)
    return {
        "solver": label,
        "budget": budget,
        "seed": seed,
        "cost": total_cost(plan, request),
        "value": plan.value,
        "visits": made,
        "dropped": dict(Counter(str(d.reason) for d in plan.dropped)),
        "km": round(plan.distance_m / 1000, 2),
        "km_per_visit": round(plan.distance_m / 1000 / max(made, 1), 3),
        "utilisation": round(utilisation(plan, request), 3),
        "teams_out": len(plan.routes),
        "feasible": not problems,
        "problem": problems[0] if problems else None,
        "seconds": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--budgets", default="10,60", help="comma-separated seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="seeds solved in parallel")
    parser.add_argument("--baseline", choices=("ortools", "none"), default="none")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",") if b.strip()]

    request = city_day(args.visits, args.teams, args.seed)
    total_value = sum(v.value for v in request.visits)
    print(
        f"{args.visits} visits (value {total_value}), {args.teams} teams x 8 visits, "
        f"budgets {budgets} s, {args.workers} seeds in parallel, day seed {args.seed}"
    )
    rows: list[dict[str, Any]] = []
    for budget in budgets:
        began = time.monotonic()
        data = build(request, costs=COSTS)  # the product's path: build, then solve_best
        seeds = [args.seed + k for k in range(args.workers)]
        plan = solve_best(data, began + budget - MARGIN - time.monotonic(), seeds)
        wall = time.monotonic() - began
        rows.append(_row("pyvrp", budget, plan, request, wall, plan.seed))
    if args.baseline == "ortools":
        began = time.monotonic()
        plan = _ortools((args.visits, args.teams, args.seed, budgets[0]))
        rows.append(_row("ortools", budgets[0], plan, request, time.monotonic() - began, 0))
    best = min(r["cost"] for r in rows if r["solver"] == "pyvrp" and r["budget"] == budgets[-1])
    for r in rows:
        r["gap_pct"] = round(100 * (r["cost"] - best) / best, 3)
        print(
            f"  {r['solver']:7} {r['budget']:5g} s: cost {r['cost']:,} (gap {r['gap_pct']:.3f} %)"
            f"  visits {r['visits']}  dropped {r['dropped']}  km {r['km']:.1f}"
            f" ({r['km_per_visit']:.2f}/visit)  utilisation {100 * r['utilisation']:.1f} %"
            f"  teams out {r['teams_out']}"
            f"  feasible {'yes' if r['feasible'] else 'NO: ' + str(r['problem'])}"
            f"  {r['seconds']:.1f} s wall"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["feasible"] for r in rows if r["solver"] == "pyvrp") else 1


if __name__ == "__main__":
    sys.exit(main())
