"""Solomon VRPTW instances as plan requests, so the benchmark runs the product's builder.

Mapping: the depot is every team's start and end, its window the shift; each customer is
a required visit with its window (on the start of service), service time and demand; the
vehicles are identical teams with the instance's capacity and no visit limit. Euclidean
distance is both travel time and distance; every time and distance is multiplied by
``scale`` (integers for the solver: `EuclideanTravel` rounds durations up, so an integer
schedule is feasible in double precision). The allowed hours are the depot's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from doorstep.domain.errors import InvalidValue
from doorstep.planning.request import AllowedHours, PlanRequest, Team, TimeWindow, Visit
from doorstep.planning.travel import EuclideanTravel, Location

__all__ = ["SolomonCustomer", "SolomonInstance", "read_solomon", "solomon_request"]

SOLOMON_DATE = date(1987, 3, 1)
"""A fixed, arbitrary plan date for benchmark instances."""


@dataclass(frozen=True, slots=True)
class SolomonCustomer:
    """One row of the CUSTOMER table; number 0 is the depot."""

    number: int
    x: float
    y: float
    demand: int
    ready: int
    due: int
    service: int


@dataclass(frozen=True, slots=True)
class SolomonInstance:
    name: str
    vehicles: int
    capacity: int
    depot: SolomonCustomer
    customers: tuple[SolomonCustomer, ...]


def read_solomon(path: Path | str) -> SolomonInstance:
    """Read an instance in the classic Solomon text format."""
    lines = [line.split() for line in Path(path).read_text().splitlines()]
    lines = [line for line in lines if line]
    try:
        name = lines[0][0]
        head = next(i for i, line in enumerate(lines) if line[0].upper() == "NUMBER")
        vehicles, capacity = int(lines[head + 1][0]), int(lines[head + 1][1])
        rows = [
            line
            for line in lines[head + 2 :]
            if len(line) == 7 and all(_numeric(token) for token in line)
        ]
        table = [
            SolomonCustomer(
                number=int(r[0]),
                x=float(r[1]),
                y=float(r[2]),
                demand=int(float(r[3])),
                ready=int(float(r[4])),
                due=int(float(r[5])),
                service=int(float(r[6])),
            )
            for r in rows
        ]
    except (IndexError, ValueError, StopIteration) as exc:
        raise InvalidValue(
            f"{path}: not a Solomon instance ({exc})", message_zh=f"{path}：不是 Solomon 算例"
        ) from exc
    if not table or table[0].number != 0:
        raise InvalidValue(f"{path}: no depot row", message_zh=f"{path}：缺少仓库行")
    return SolomonInstance(name, vehicles, capacity, table[0], tuple(table[1:]))


def _numeric(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def solomon_request(instance: SolomonInstance, *, scale: int = 1000) -> PlanRequest:
    """The instance as a `PlanRequest` in units of ``1 / scale`` (see the module docstring)."""
    depot = instance.depot
    home = Location(lat=depot.y, lng=depot.x)
    teams = tuple(
        Team(
            team_id=f"V{k + 1:02d}",
            start=home,
            end=home,
            shift_start=depot.ready * scale,
            shift_end=depot.due * scale,
            max_visits=len(instance.customers),
            capacity=instance.capacity,
        )
        for k in range(instance.vehicles)
    )
    visits = tuple(
        Visit(
            visit_id=str(c.number),
            location=Location(lat=c.y, lng=c.x),
            service_seconds=c.service * scale,
            windows=(TimeWindow(c.ready * scale, c.due * scale),),
            value=0,
            required=True,
            demand=c.demand,
        )
        for c in instance.customers
    )
    return PlanRequest(
        date=SOLOMON_DATE,
        teams=teams,
        visits=visits,
        travel=EuclideanTravel(scale=scale),
        allowed=AllowedHours(depot.ready * scale, depot.due * scale),
    )
