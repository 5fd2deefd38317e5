"""Check-in plausibility: is the verifier where and when the visit says?

Pure functions over plain values. The server records its own time beside the device's,
the distance to the planned address, and these flags, the usual signs of a visit marked
from somewhere else:

| flag                 | raised when                                                     |
|----------------------|-----------------------------------------------------------------|
| far_from_address     | more than `max_distance_m` (500 m) from the planned address     |
| outside_hours        | the business-zone time is outside the allowed hours (08–22)     |
| poor_accuracy        | the device reports an accuracy worse than `max_accuracy_m` (200) |
| no_position          | the device gave no position at all                              |
| clock_skew           | the device clock is more than `max_clock_skew` (5 min) off      |
| too_fast             | the team would have moved faster than `max_speed_kmh` (120)     |
|                      | since its previous check-in                                      |
| exif_position        | a photo's EXIF position is more than `max_distance_m` from the  |
|                      | check-in                                                         |
| exif_time            | a photo's EXIF time is more than `max_exif_gap` from the visit  |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from doorstep.domain.errors import InvalidValue

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
TEAM_OF = 2  # verifiers at every door: a visit is never made alone


class Flag(StrEnum):
    FAR_FROM_ADDRESS = "far_from_address"
    OUTSIDE_HOURS = "outside_hours"
    POOR_ACCURACY = "poor_accuracy"
    NO_POSITION = "no_position"
    CLOCK_SKEW = "clock_skew"
    TOO_FAST = "too_fast"
    EXIF_POSITION = "exif_position"
    EXIF_TIME = "exif_time"


@dataclass(frozen=True, slots=True)
class Limits:
    max_distance_m: int = 500
    hours_start: time = time(8, 0)
    hours_end: time = time(22, 0)
    max_accuracy_m: float = 200.0
    max_clock_skew: timedelta = timedelta(minutes=5)
    max_speed_kmh: float = 120.0
    max_exif_gap: timedelta = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class PreviousCheckIn:
    """The team's check-in before this one (another case)."""

    at: datetime
    where: Point


@dataclass(frozen=True, slots=True)
class CheckInFacts:
    server_time: datetime  # aware
    local_time: time  # the server time in the business zone
    device_time: datetime | None  # aware, as the device reported it
    position: Point | None
    accuracy_m: float | None
    planned: Point | None  # the planned address, when it has coordinates
    previous: PreviousCheckIn | None = None


@dataclass(frozen=True, slots=True)
class CheckInResult:
    distance_m: int | None
    flags: tuple[Flag, ...]
    speed_kmh: float | None = None

    @property
    def far(self) -> bool:
        return Flag.FAR_FROM_ADDRESS in self.flags


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b.lng - a.lng)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def position(lat: float | None, lng: float | None, field: str = "position") -> Point | None:
    """A checked position (both or neither), or an error naming the field."""
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        raise InvalidValue(
            f"{field}: latitude and longitude go together",
            message_zh=f"{field}：纬度和经度必须同时提供",
        )
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidValue(
            f"{field}: ({lat}, {lng}) is not a position on Earth",
            message_zh=f"{field}：({lat}, {lng}) 不是有效的地理位置",
        )
    return Point(lat, lng)


def within_hours(local: time, limits: Limits) -> bool:
    return limits.hours_start <= local < limits.hours_end


def assess(facts: CheckInFacts, limits: Limits, *, hours_ok: bool | None = None) -> CheckInResult:
    """Distance and flags of one check-in. `hours_ok` is the conduct-rules engine's answer
    when it has one; else the local rule (`limits.hours_start`..`hours_end`) decides."""
    flags: list[Flag] = []
    distance = None
    if facts.position is None:
        flags.append(Flag.NO_POSITION)
    elif facts.planned is not None:
        distance = round(haversine_m(facts.position, facts.planned))
        if distance > limits.max_distance_m:
            flags.append(Flag.FAR_FROM_ADDRESS)
    allowed = within_hours(facts.local_time, limits) if hours_ok is None else hours_ok
    if not allowed:
        flags.append(Flag.OUTSIDE_HOURS)
    if facts.position is not None and (
        facts.accuracy_m is None or facts.accuracy_m > limits.max_accuracy_m
    ):
        flags.append(Flag.POOR_ACCURACY)
    if facts.device_time is not None and (
        abs(facts.device_time - facts.server_time) > limits.max_clock_skew
    ):
        flags.append(Flag.CLOCK_SKEW)
    speed = None
    if facts.previous is not None and facts.position is not None:
        hours = (facts.server_time - facts.previous.at).total_seconds() / 3600
        metres = haversine_m(facts.previous.where, facts.position)
        if hours > 0:
            speed = metres / 1000 / hours
        elif metres > limits.max_distance_m:
            speed = math.inf
        if speed is not None and speed > limits.max_speed_kmh:
            flags.append(Flag.TOO_FAST)
    return CheckInResult(distance, tuple(flags), speed)


def exif_flags(
    check_in: Point | None,
    checked_in_at: datetime,
    exif_position: Point | None,
    exif_time: datetime | None,
    limits: Limits,
) -> list[Flag]:
    """Flags from one photo's EXIF against the check-in (nothing when EXIF is absent)."""
    flags = []
    if (
        check_in is not None
        and exif_position is not None
        and haversine_m(check_in, exif_position) > limits.max_distance_m
    ):
        flags.append(Flag.EXIF_POSITION)
    if exif_time is not None and abs(exif_time - checked_in_at) > limits.max_exif_gap:
        flags.append(Flag.EXIF_TIME)
    return flags


def parse_hours(text: str) -> tuple[time, time]:
    """'08:00-22:00' -> (08:00, 22:00)."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise InvalidValue(
            f"allowed hours {text!r}: expected HH:MM-HH:MM",
            message_zh=f"允许时段 {text!r} 格式应为 HH:MM-HH:MM",
        ) from None
    if end <= start:
        raise InvalidValue(
            f"allowed hours {text!r}: the end must be after the start",
            message_zh=f"允许时段 {text!r}：结束必须晚于开始",
        )
    return start, end
