"""Benchmark: the visit planner on the 56 Solomon VRPTW instances, against OR-Tools.

    python bench/solomon.py [--dir DIR] [--bks CSV] [--seconds 10] [--baseline ortools|none]
                            [--json FILE] [--instances GLOB] [--jobs 2] [--seed 1]
                            [--scale 1000] [--clock wall|cpu]

    python bench/solomon.py --seconds 1 --instances 'C1*'      # smoke run

Each instance goes through the product's own path: `read_solomon` -> `solomon_request`
(a `PlanRequest`: depot = team start/end, customers = required visits with window,
service and demand, Euclidean distance = travel time, all times `scale`) -> `model.build`
-> `solver.solve` under a wall-clock limit. The OR-Tools routing baseline (PATH_CHEAPEST_ARC
then GUIDED_LOCAL_SEARCH, same limit) reads the same integer `RoutingData`. Objective for
both: total distance, no cost per vehicle (fleet <= the instance's K).

Every route of both solvers is then re-checked here in double precision, with nothing
from the planner: distance = travel time = Euclidean, service starts inside [ready, due]
(waiting allowed), routes leave the depot at or after its ready time and return by its
due time, load <= capacity, every customer exactly once, at most K vehicles. The gap is to
the distance-only best-known `dist_distance` of bks.csv (double precision).

Tasks (instance x solver) run in `--jobs` processes (default 2: both cores). Each row
also records the CPU seconds its process got: on a shared machine a 10 s wall-clock limit
may buy much less search. `--clock cpu` stops PyVRP on its own CPU time instead.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from doorstep.planning.model import RoutingData, build
from doorstep.planning.solomon import SolomonInstance, read_solomon, solomon_request

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "bench" / "solomon" / "txt"
TOLERANCE = 1e-6
WALL_CAP = 20  # --clock cpu: give up after 20 x the limit in wall-clock time


@dataclass(frozen=True)
class Outcome:
    instance: str
    solver: str
    routes: list[list[int]]  # customer numbers, depot excluded
    seconds: float
    cpu_seconds: float = 0.0
    error: str = ""


# --- solvers (each runs in a worker process) ------------------------------------------------


def run_pyvrp(path: str, seconds: float, seed: int, scale: int, clock: str) -> Outcome:
    from doorstep.planning.solver import CpuTime, solve

    instance = read_solomon(path)
    began = time.perf_counter()
    data = build(solomon_request(instance, scale=scale))
    try:
        if clock == "cpu":  # `seconds` of CPU; the wall-clock cap only guards against a hang
            plan = solve(data, WALL_CAP * seconds, seed, stop=CpuTime(seconds))
        else:
            plan = solve(data, seconds, seed)
    except Exception as exc:  # reported as infeasible, the run goes on
        return Outcome(instance.name, "pyvrp", [], time.perf_counter() - began, error=repr(exc))
    routes = [[int(stop.visit_id) for stop in route.stops] for route in plan.routes]
    return Outcome(instance.name, "pyvrp", routes, time.perf_counter() - began)


def run_ortools(path: str, seconds: float, seed: int, scale: int, clock: str) -> Outcome:
    del seed, clock  # deterministic search; its limit is always wall-clock
    instance = read_solomon(path)
    began = time.perf_counter()
    data = build(solomon_request(instance, scale=scale))
    routes = _ortools_routes(data, seconds)
    return Outcome(instance.name, "ortools", routes, time.perf_counter() - began)


def _ortools_routes(data: RoutingData, seconds: float) -> list[list[int]]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if any(len(s.windows) != 1 or not s.required for s in data.stops):
        raise ValueError("the OR-Tools baseline handles one window and required stops only")
    depots = sorted({p for v in data.vehicles for p in (v.start, v.end)})
    node_point = depots + [s.point for s in data.stops]
    n_dep = len(depots)
    dist = data.distances[node_point][:, node_point]
    dur = data.durations[node_point][:, node_point]
    service = [0] * n_dep + [s.service for s in data.stops]
    time_matrix = (dur + [[x] for x in service]).tolist()  # travel + service at `from`
    for i in range(len(node_point)):
        time_matrix[i][i] = 0

    manager = pywrapcp.RoutingIndexManager(
        len(node_point),
        len(data.vehicles),
        [depots.index(v.start) for v in data.vehicles],
        [depots.index(v.end) for v in data.vehicles],
    )
    routing = pywrapcp.RoutingModel(manager)
    arc = routing.RegisterTransitMatrix(dist.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    # Without a way out, PATH_CHEAPEST_ARC finds no first solution on the tight R1/RC1
    # windows and OR-Tools returns nothing. The usual remedy: each customer may be skipped
    # at a prohibitive penalty; a plan that still skips one fails the check below.
    penalty = 100 * int(dist.max()) * len(node_point)
    for s_idx in range(len(data.stops)):
        routing.AddDisjunction([manager.NodeToIndex(n_dep + s_idx)], penalty)
    horizon = max(v.shift_end for v in data.vehicles)
    transit = routing.RegisterTransitMatrix(time_matrix)
    routing.AddDimension(transit, horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    for s_idx, stop in enumerate(data.stops):
        early, late = stop.windows[0]
        time_dim.CumulVar(manager.NodeToIndex(n_dep + s_idx)).SetRange(early, late)
    for k, vehicle in enumerate(data.vehicles):
        time_dim.CumulVar(routing.Start(k)).SetRange(vehicle.shift_start, vehicle.shift_end)
        time_dim.CumulVar(routing.End(k)).SetRange(vehicle.shift_start, vehicle.shift_end)
    for d, dim in enumerate(data.load_dims):
        loads = [0] * n_dep + [s.load[d] for s in data.stops]
        demand = routing.RegisterUnaryTransitVector(loads)
        caps = [v.capacity[d] for v in data.vehicles]
        routing.AddDimensionWithVehicleCapacity(demand, 0, caps, True, dim)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return []
    routes = []
    for k in range(len(data.vehicles)):
        index = solution.Value(routing.NextVar(routing.Start(k)))
        route = []
        while not routing.IsEnd(index):
            stop = data.stops[manager.IndexToNode(index) - n_dep]
            route.append(int(stop.visit_id))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes


SOLVERS = {"pyvrp": run_pyvrp, "ortools": run_ortools}


def _run(task: tuple[str, str, float, int, int, str]) -> Outcome:
    """One task in a worker; also the CPU time it got (the machine may be shared)."""
    solver, path, seconds, seed, scale, clock = task
    cpu = time.process_time()
    try:
        outcome = SOLVERS[solver](path, seconds, seed, scale, clock)
    except Exception as exc:
        outcome = Outcome(Path(path).stem, solver, [], 0.0, error=repr(exc))
    return replace(outcome, cpu_seconds=time.process_time() - cpu)


# --- independent double-precision check -----------------------------------------------------


def verify(instance: SolomonInstance, routes: list[list[int]]) -> tuple[float, list[str]]:
    """Total distance in double precision and the list of broken constraints."""
    nodes = {c.number: c for c in instance.customers}
    depot = instance.depot
    problems: list[str] = []
    if len(routes) > instance.vehicles:
        problems.append(f"{len(routes)} routes > {instance.vehicles} vehicles")
    served = [c for route in routes for c in route]
    if sorted(served) != sorted(nodes):
        missing = sorted(set(nodes) - set(served))
        twice = sorted({c for c in served if served.count(c) > 1})
        problems.append(f"customers missing {missing[:5]}, repeated {twice[:5]}")
    total = 0.0
    for k, route in enumerate(routes):
        clock, here, load = float(depot.ready), depot, 0
        for number in route:
            there = nodes.get(number)
            if there is None:
                problems.append(f"route {k}: unknown customer {number}")
                break
            leg = math.hypot(here.x - there.x, here.y - there.y)
            total += leg
            clock = max(clock + leg, float(there.ready))
            if clock > there.due + TOLERANCE:
                problems.append(f"route {k}: customer {number} starts {clock:.4f} > {there.due}")
            clock += there.service
            load += there.demand
            here = there
        leg = math.hypot(here.x - depot.x, here.y - depot.y)
        total += leg
        if clock + leg > depot.due + TOLERANCE:
            problems.append(f"route {k}: back at {clock + leg:.4f} > {depot.due}")
        if load > instance.capacity:
            problems.append(f"route {k}: load {load} > {instance.capacity}")
    return total, problems


# --- driver ---------------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _read_bks(path: Path) -> dict[str, float]:
    with path.open(newline="") as fh:
        return {row["instance"]: float(row["dist_distance"]) for row in csv.DictReader(fh)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--bks", type=Path, default=None, help="default: DIR/../bks.csv")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline", choices=("ortools", "none"), default="ortools")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--instances", default="*", help="glob on the name, e.g. 'C1*'")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="PyVRP's limit: wall-clock seconds, or CPU seconds of its own process (fair "
        "when the machine is shared; OR-Tools' limit stays wall-clock)",
    )
    args = parser.parse_args(argv)

    bks = _read_bks(args.bks or args.dir.parent / "bks.csv")
    paths = sorted(
        p for p in args.dir.glob("*.txt") if fnmatch.fnmatch(p.stem.upper(), args.instances.upper())
    )
    if not paths:
        print(f"no instance matches {args.instances!r} in {args.dir}", file=sys.stderr)
        return 2
    solvers = ["pyvrp"] + (["ortools"] if args.baseline == "ortools" else [])
    tasks = [
        (s, str(p), args.seconds, args.seed, args.scale, args.clock) for p in paths for s in solvers
    ]
    print(
        f"{len(paths)} instances x {solvers}, {args.seconds:g} s ({args.clock}) each, "
        f"{args.jobs} jobs, scale {args.scale}, seed {args.seed}, {os.cpu_count()} cores"
    )
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = {(o.instance, o.solver): o for o in pool.map(_run, tasks)}
    wall = time.perf_counter() - began

    rows: list[dict[str, Any]] = []
    head = "".join(f" | {s:>7} veh  distance   gap%    sec ok" for s in solvers)
    print(f"{'instance':9}{head}")
    for path in paths:
        instance = read_solomon(path)
        line = f"{instance.name:9}"
        for solver in solvers:
            outcome = outcomes[(instance.name, solver)]
            distance, problems = verify(instance, outcome.routes)
            if outcome.error:
                problems.insert(0, outcome.error)
            feasible = not problems
            best = bks.get(instance.name)
            gap = 100.0 * (distance - best) / best if best and feasible else None
            rows.append(
                {
                    "instance": instance.name,
                    "solver": solver,
                    "vehicles": len(outcome.routes),
                    "distance": round(distance, 4),
                    "gap_pct": None if gap is None else round(gap, 4),
                    "feasible": feasible,
                    "seconds": round(outcome.seconds, 3),
                    "cpu_seconds": round(outcome.cpu_seconds, 3),
                }
            )
            gap_text = f"{gap:6.2f}" if gap is not None else "     -"
            line += (
                f" | {len(outcome.routes):11d} {distance:9.2f} {gap_text} "
                f"{outcome.seconds:6.2f} {'y' if feasible else 'N'} "
            )
            if problems:
                print(f"  {instance.name} {solver}: {problems[0]}", file=sys.stderr)
        print(line)

    print(f"\nmeans over {len(paths)} instances (gap to bks dist_distance; wall {wall:.0f} s):")
    for solver in solvers:
        mine = [r for r in rows if r["solver"] == solver]
        ok = [r for r in mine if r["feasible"]]
        gaps = [r["gap_pct"] for r in ok if r["gap_pct"] is not None]
        print(
            f"  {solver:8} feasible {len(ok)}/{len(mine)}"
            f"  mean gap {_mean(gaps):.3f} %  max gap {max(gaps, default=math.nan):.2f} %"
            f"  (feasible ones:) mean vehicles {_mean([r['vehicles'] for r in ok]):.2f}"
            f"  mean distance {_mean([r['distance'] for r in ok]):.2f}"
            f"  | mean seconds {_mean([r['seconds'] for r in mine]):.2f}"
            f"  mean cpu seconds {_mean([r['cpu_seconds'] for r in mine]):.2f}"
        )
    if len(solvers) == 2:
        both = [
            (p, o)
            for p, o in zip(rows[0::2], rows[1::2], strict=True)
            if p["feasible"] and o["feasible"]
        ]
        if both:
            ratio = statistics.fmean(p["distance"] / o["distance"] for p, o in both)
            print(f"  pyvrp / ortools distance, mean over {len(both)} both-feasible: {ratio:.4f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
