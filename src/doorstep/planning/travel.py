"""Points and travel: the `TravelTimes` port and its two plain implementations.

A travel model turns a list of points into two square integer matrices, travel seconds
and metres, row = from, column = to. The planner only ever sees those integers.

* `GreatCircleTravel` (the default): great-circle distance times a road-detour factor,
  at a constant speed. Good enough to plan a city day without a road network.
* `EuclideanTravel`: plane coordinates, distance = travel time, both multiplied by an
  integer ``scale`` (Solomon's VRPTW convention). Durations are rounded *up* so that a
  schedule feasible in integers is feasible in double precision too.

A road-network implementation (OSRM, see DESIGN §4 integrations) implements the same
Protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from doorstep.domain.errors import InvalidValue

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""

IntMatrix = Sequence[Sequence[int]]
"""A square matrix of integers: nested lists, tuples or a 2-D integer numpy array."""


@dataclass(frozen=True, slots=True)
class Location:
    """A point: WGS-84 degrees for `GreatCircleTravel`, plane (y, x) for `EuclideanTravel`.

    Parameters
    ----------
    lat
        Latitude in degrees (or the plane's y coordinate).
    lng
        Longitude in degrees (or the plane's x coordinate).
    """

    lat: float
    lng: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and math.isfinite(self.lng)):
            raise InvalidValue(
                f"location ({self.lat}, {self.lng}) is not finite",
                message_zh=f"坐标 ({self.lat}, {self.lng}) 不是有限数",
            )


@runtime_checkable
class TravelTimes(Protocol):
    """The port: travel seconds and metres between every pair of ``points``."""

    def matrix(self, points: Sequence[Location]) -> tuple[IntMatrix, IntMatrix]:
        """Return ``(durations_s, distances_m)``, each ``len(points)`` square, integers >= 0."""
        ...


@dataclass(frozen=True, slots=True)
class GreatCircleTravel:
    """Great-circle distance times ``detour``, driven at ``speed_kmh``.

    Parameters
    ----------
    detour
        Road distance over straight-line distance (>= 1). 1.3 suits a dense city.
    speed_kmh
        Average door-to-door speed, parking included (> 0).
    """

    detour: float = 1.3
    speed_kmh: float = 25.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.detour) and self.detour >= 1.0):
            raise InvalidValue(f"detour {self.detour} < 1", message_zh="绕行系数必须 >= 1")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh > 0):
            raise InvalidValue(f"speed {self.speed_kmh} <= 0", message_zh="速度必须大于 0")

    def metres(self, a: Location, b: Location) -> float:
        """Road metres from ``a`` to ``b`` in double precision (haversine times detour)."""
        for point in (a, b):
            if not (-90.0 <= point.lat <= 90.0 and -180.0 <= point.lng <= 180.0):
                raise InvalidValue(
                    f"({point.lat}, {point.lng}) is not a WGS-84 latitude/longitude",
                    message_zh=f"({point.lat}, {point.lng}) 不是有效的经纬度",
                )
        phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
        dphi = phi2 - phi1
        dlmb = math.radians(b.lng - a.lng)
        h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) * self.detour

    def seconds(self, metres: float) -> float:
        """Seconds to drive ``metres`` at ``speed_kmh``."""
        return metres * 3.6 / self.speed_kmh

    def matrix(self, points: Sequence[Location]) -> tuple[IntMatrix, IntMatrix]:
        durations: list[list[int]] = []
        distances: list[list[int]] = []
        for a in points:
            metres = [self.metres(a, b) for b in points]
            distances.append([round(m) for m in metres])
            durations.append([math.ceil(self.seconds(m)) for m in metres])
        return durations, distances


@dataclass(frozen=True, slots=True)
class EuclideanTravel:
    """Plane distance = travel time, both times ``scale`` (Solomon's convention).

    ``Location.lng`` is x and ``Location.lat`` is y. Distances are rounded to the nearest
    integer, durations rounded up, so integer schedules stay feasible in real numbers.

    Parameters
    ----------
    scale
        Integer units per unit of the plane (>= 1); 1000 keeps three decimals.
    """

    scale: int = 1000

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise InvalidValue(f"scale {self.scale} < 1", message_zh="比例必须 >= 1")

    @staticmethod
    def exact(a: Location, b: Location) -> float:
        """Plane distance in double precision, unscaled."""
        return math.hypot(a.lng - b.lng, a.lat - b.lat)

    def matrix(self, points: Sequence[Location]) -> tuple[IntMatrix, IntMatrix]:
        durations: list[list[int]] = []
        distances: list[list[int]] = []
        for a in points:
            scaled = [self.exact(a, b) * self.scale for b in points]
            distances.append([round(d) for d in scaled])
            durations.append([math.ceil(d) for d in scaled])
        return durations, distances
