"""Benchmark: plan one synthetic city day (more visits than the teams can make), vs OR-Tools.

    python bench/plan_city.py [--visits 300] [--teams 20] [--seconds 10] [--seed 1]
                              [--baseline ortools|none] [--json FILE] [--clock wall|cpu]
                              [--first PARALLEL_CHEAPEST_INSERTION]

The day: visits scattered over a 16 x 16 km square around People's Square (Shanghai),
30-45 minutes each, 40 % with one window of 2-3 h and 10 % with two, value 1-10, 3 %
required, 10 % needing the "cantonese" skill that a quarter of the teams have. Teams
leave one of three offices on 09:00-18:00 or 10:00-19:00 shifts, at most 8 visits each,
so capacity is short and the planner chooses by value. Travel: `GreatCircleTravel`
(detour 1.3, 25 km/h).

Both solvers read the same `RoutingData` (the product's builder), and both plans go
through `check.problems` (PyVRP's as returned; OR-Tools' routes scheduled earliest-first
here). Printed: value kept, visits, km, objective (value x weight - metres), seconds.
The two solvers run at the same time, one per core. OR-Tools runs GUIDED_LOCAL_SEARCH from
PARALLEL_CHEAPEST_INSERTION: from PATH_CHEAPEST_ARC it plans no visit at all in 10 s (nor in
30 s) on 300 visits; `--first PATH_CHEAPEST_ARC` shows it. `--clock cpu` stops PyVRP on
its own CPU seconds (OR-Tools stays wall-clock).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
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

H = 3600
DAY = date(2025, 7, 1)
CENTRE = Location(31.2304, 121.4737)
COSTS = CostWeights()


def _offset(km_north: float, km_east: float) -> Location:
    lat = CENTRE.lat + km_north / 111.195
    lng = CENTRE.lng + km_east / (111.195 * math.cos(math.radians(CENTRE.lat)))
    return Location(round(lat, 6), round(lng, 6))


def city_day(visits: int, teams: int, seed: int) -> PlanRequest:
    rng = random.Random(seed)
    offices = [_offset(-4, -4), _offset(3, 2), _offset(-1, 5)]
    team_list = []
    for k in range(teams):
        begin = rng.choice((9, 10))
        office = offices[k % len(offices)]
        skills = frozenset({"cantonese"}) if k % 4 == 0 else frozenset()
        team_list.append(Team(f"T{k:02d}", office, office, begin * H, (begin + 9) * H, 8, skills))
    visit_list = []
    for i in range(visits):
        kind = rng.random()
        windows: tuple[TimeWindow, ...] = ()
        if kind < 0.4:
            start = rng.randint(9, 17) * H
            windows = (TimeWindow(start, start + rng.choice((2, 3)) * H),)
        elif kind < 0.5:
            windows = (TimeWindow(9 * H, 11 * H), TimeWindow(16 * H, 19 * H))
        visit_list.append(
            Visit(
                f"V{i:04d}",
                _offset(rng.uniform(-8, 8), rng.uniform(-8, 8)),
                service_seconds=rng.choice((1800, 2700)),
                windows=windows,
                value=rng.randint(1, 10),
                required=rng.random() < 0.03,
                skills=frozenset({"cantonese"}) if rng.random() < 0.1 else frozenset(),
            )
        )
    return PlanRequest(DAY, tuple(team_list), tuple(visit_list))


# --- solvers --------------------------------------------------------------------------------


def run_pyvrp(request: PlanRequest, seconds: float, seed: int, opt: str) -> tuple[Plan, float]:
    from doorstep.planning.solver import CpuTime, solve

    began = time.perf_counter()
    data = build(request, costs=COSTS)
    if opt == "cpu":
        plan = solve(data, 20 * seconds, seed, stop=CpuTime(seconds))
    else:
        plan = solve(data, seconds, seed)
    return plan, time.perf_counter() - began


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


def _task(args: tuple[str, int, int, int, float, str]) -> tuple[str, Plan, float, float]:
    solver, visits, teams, seed, seconds, opt = args
    cpu = time.process_time()
    request = city_day(visits, teams, seed)
    runner = run_pyvrp if solver == "pyvrp" else run_ortools
    plan, took = runner(request, seconds, seed, opt)
    return solver, plan, took, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", choices=("ortools", "none"), default="ortools")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--first", default="PARALLEL_CHEAPEST_INSERTION")
    args = parser.parse_args(argv)

    request = city_day(args.visits, args.teams, args.seed)
    total_value = sum(v.value for v in request.visits)
    solvers = ["pyvrp"] + (["ortools"] if args.baseline == "ortools" else [])
    print(
        f"{args.visits} visits (value {total_value}), {args.teams} teams x 8 visits, "
        f"{args.seconds:g} s ({args.clock} for pyvrp), seed {args.seed}, ortools from {args.first}"
    )
    tasks = [
        (
            s,
            args.visits,
            args.teams,
            args.seed,
            args.seconds,
            args.clock if s == "pyvrp" else args.first,
        )
        for s in solvers
    ]
    with ProcessPoolExecutor(max_workers=len(tasks)) as pool:
        results = list(pool.map(_task, tasks))
    rows: list[dict[str, Any]] = []
    for solver, plan, took, cpu in results:
        problems = find_problems(plan, request)  # what check() would raise
        reasons = Counter(str(d.reason) for d in plan.dropped)
        objective = plan.value * COSTS.value_weight - plan.distance_m
        rows.append(
            {
                "solver": solver,
                "value": plan.value,
                "visits": len(plan.planned_ids),
                "teams_out": len(plan.routes),
                "km": round(plan.distance_m / 1000, 2),
                "objective": objective,
                "dropped": dict(reasons),
                "feasible": not problems,
                "seconds": round(took, 2),
                "cpu_seconds": round(cpu, 2),
            }
        )
        print(
            f"  {solver:8} value {plan.value:5d} ({100 * plan.value / total_value:5.1f} %)"
            f"  visits {len(plan.planned_ids):4d}  teams out {len(plan.routes):3d}"
            f"  km {plan.distance_m / 1000:8.1f}  objective {objective:,}"
            f"  feasible {'yes' if not problems else 'NO: ' + problems[0]}"
            f"  {took:.1f} s ({cpu:.1f} s cpu)"
        )
        print(f"           dropped: {dict(reasons)}")
    if len(rows) == 2 and all(r["feasible"] and r["value"] for r in rows):
        p, o = rows
        print(
            f"  pyvrp / ortools: value {p['value'] / max(o['value'], 1):.3f}, "
            f"km {p['km'] / max(o['km'], 1e-9):.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["feasible"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
