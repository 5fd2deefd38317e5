"""What the planner is asked: teams and visits for one date and region, validated.

Times are integer seconds since the plan date's midnight. A visit's windows bound the
*start* of the visit (the team may arrive early and wait); the allowed hours bound the
whole visit (default 08:00-22:00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from doorstep.domain.errors import InvalidValue
from doorstep.planning.travel import GreatCircleTravel, Location, TravelTimes

__all__ = ["HOUR", "AllowedHours", "PlanRequest", "Team", "TimeWindow", "Visit"]

HOUR = 3600


def _invalid(message: str, message_zh: str) -> InvalidValue:
    return InvalidValue(message, message_zh=message_zh)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``[start, end]`` in seconds since midnight, both ends included."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise _invalid(
                f"time window [{self.start}, {self.end}] is not 0 <= start <= end",
                f"时间窗 [{self.start}, {self.end}] 无效",
            )


@dataclass(frozen=True, slots=True)
class AllowedHours:
    """When a visit may take place: it starts and ends inside ``[start, end]`` (seconds)."""

    start: int = 8 * HOUR
    end: int = 22 * HOUR

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise _invalid(
                f"allowed hours [{self.start}, {self.end}] are not 0 <= start < end",
                f"允许外访时段 [{self.start}, {self.end}] 无效",
            )


@dataclass(frozen=True, slots=True)
class Team:
    """A team of two verifiers for the day.

    Parameters
    ----------
    team_id
        Unique within the request.
    start, end
        Where the day starts and ends (office or home base).
    shift_start, shift_end
        Leave ``start`` no earlier than ``shift_start``; be at ``end`` by ``shift_end``.
    max_visits
        At most this many visits.
    skills
        What the team can do (languages, ...); a visit needs a team with all of its skills.
    capacity
        Optional load limit on the sum of ``Visit.demand`` (Solomon's vehicle capacity).
    """

    team_id: str
    start: Location
    end: Location
    shift_start: int
    shift_end: int
    max_visits: int
    skills: frozenset[str] = frozenset()
    capacity: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.shift_start < self.shift_end:
            raise _invalid(
                f"team {self.team_id}: shift [{self.shift_start}, {self.shift_end}] is empty",
                f"外访组 {self.team_id}：班次时间无效",
            )
        if self.max_visits < 0 or (self.capacity is not None and self.capacity < 0):
            raise _invalid(
                f"team {self.team_id}: negative max_visits or capacity",
                f"外访组 {self.team_id}：上限不能为负",
            )


@dataclass(frozen=True, slots=True)
class Visit:
    """A home visit to plan.

    Parameters
    ----------
    visit_id
        Unique within the request.
    location
        The address's point.
    service_seconds
        Time at the door (default 30 minutes).
    windows
        When the visit may *start*; empty = any time inside the allowed hours.
    value
        Priority (>= 0); when teams are short, higher values are kept first.
    required
        Must be planned; the plan fails with `PlanInfeasible` otherwise.
    skills
        Skills the team must have.
    demand
        Load units taken from `Team.capacity` (0 for ordinary visits).
    """

    visit_id: str
    location: Location
    service_seconds: int = 1800
    windows: tuple[TimeWindow, ...] = ()
    value: int = 1
    required: bool = False
    skills: frozenset[str] = frozenset()
    demand: int = 0

    def __post_init__(self) -> None:
        if self.service_seconds < 0 or self.value < 0 or self.demand < 0:
            raise _invalid(
                f"visit {self.visit_id}: negative service time, value or demand",
                f"外访 {self.visit_id}：服务时长、价值或需求不能为负",
            )


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """Everything needed to plan one date in one region."""

    date: date
    teams: tuple[Team, ...]
    visits: tuple[Visit, ...]
    travel: TravelTimes = field(default_factory=GreatCircleTravel)
    allowed: AllowedHours = field(default_factory=AllowedHours)

    def __post_init__(self) -> None:
        for kind, ids in (
            ("team", [t.team_id for t in self.teams]),
            ("visit", [v.visit_id for v in self.visits]),
        ):
            if len(set(ids)) != len(ids):
                raise _invalid(f"duplicate {kind} id in the request", f"请求中有重复的{kind} id")
