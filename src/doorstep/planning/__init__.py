"""Visit planning for one date and one region, as a VRPTW.

``build(PlanRequest) -> RoutingData`` (model.py, integers), ``solve(RoutingData, seconds,
seed) -> Plan`` (solver.py, the only pyvrp import), ``check(Plan, PlanRequest)``
(check.py, an independent double-precision re-verification). Import the solver from
``doorstep.planning.solver`` so that code that only builds or checks plans does not load
PyVRP. ``parallel.solve_best`` solves with several seeds, one process each, and keeps the
cheapest plan; ``osrm.OsrmTravel`` is the road-network `TravelTimes` (OSRM table service).
"""

from __future__ import annotations

from doorstep.domain.errors import PlanInfeasible
from doorstep.planning.check import check, problems
from doorstep.planning.model import (
    AllowedHours,
    CostWeights,
    PlanRequest,
    RoutingData,
    Team,
    TimeWindow,
    Visit,
    build,
)
from doorstep.planning.plan import Dropped, DropReason, Plan, PlannedStop, Route
from doorstep.planning.travel import (
    EuclideanTravel,
    GreatCircleTravel,
    Location,
    TravelTimes,
)

__all__ = [
    "AllowedHours",
    "CostWeights",
    "DropReason",
    "Dropped",
    "EuclideanTravel",
    "GreatCircleTravel",
    "Location",
    "Plan",
    "PlanInfeasible",
    "PlanRequest",
    "PlannedStop",
    "Route",
    "RoutingData",
    "Team",
    "TimeWindow",
    "TravelTimes",
    "Visit",
    "build",
    "check",
    "problems",
]
