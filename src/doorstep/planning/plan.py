"""The planner's answer: one route per team that goes out, and the visits left out (and why).

Times are integer seconds since the plan date's midnight (for a Solomon instance: scaled
time units), distances integer metres (scaled plane units). `check.check` re-verifies a
plan against its request in double precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class DropReason(StrEnum):
    """Why a visit is not in the plan."""

    NO_CAPACITY = "no capacity"
    """Servable, but the teams' visits, load or hours went to visits of higher value."""
    NO_ELIGIBLE_TEAM = "no eligible team"
    """No team has every skill the visit needs."""
    OUTSIDE_ALLOWED_HOURS = "outside allowed hours"
    """None of its windows leaves room to start and finish inside the allowed hours."""
    UNREACHABLE = "unreachable"
    """No eligible team can get there inside a window and still be home by shift end."""
    NO_ADDRESS = "no located address"
    """The case has no usable address with coordinates (set by the service, not the solver)."""
    RULE_BLOCKED = "blocked by a conduct rule"
    """A conduct rule forbids planning the visit (set by the service, not the solver)."""
    VISITED_RECENTLY = "visited within the interval"
    """Visited within the pack's visit interval (a warning rule) and no manager overrode
    it with a reason (set by the service, not the solver)."""
    CASE_UNAVAILABLE = "case unavailable"
    """Since the plan was made the case went on hold, was cancelled or changed state."""


@dataclass(frozen=True, slots=True)
class Dropped:
    visit_id: str
    reason: DropReason


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """One visit on a route: ``arrival <= start`` (the team may wait), ``end = start + service``."""

    visit_id: str
    arrival: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Route:
    """A team's day: leave at ``depart``, make ``stops`` in order, be back at ``back``."""

    team_id: str
    depart: int
    stops: tuple[PlannedStop, ...]
    back: int
    distance_m: int
    travel_s: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Routes for the teams that go out (a team with no stop has no route) and dropped visits."""

    date: date
    routes: tuple[Route, ...]
    dropped: tuple[Dropped, ...]
    value: int
    """Sum of the values of the planned visits."""
    seed: int

    @property
    def distance_m(self) -> int:
        return sum(route.distance_m for route in self.routes)

    @property
    def planned_ids(self) -> tuple[str, ...]:
        return tuple(stop.visit_id for route in self.routes for stop in route.stops)

    @property
    def dropped_ids(self) -> tuple[str, ...]:
        return tuple(item.visit_id for item in self.dropped)
