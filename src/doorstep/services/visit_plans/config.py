"""How plans are made, read from `Settings`: hours, minutes at the door, travel, budget."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from doorstep.config import Settings
from doorstep.domain.errors import InvalidValue
from doorstep.domain.ports import Cipher, Clock, SystemClock
from doorstep.domain.rules import Pack
from doorstep.integrations.keys import personal_data_keys
from doorstep.planning import (
    AllowedHours,
    CostWeights,
    GreatCircleTravel,
    TimeWindow,
    TravelTimes,
)
from doorstep.planning.osrm import OsrmTravel
from doorstep.services.conduct import rules as conduct
from doorstep.services.conduct.personal_data import Position, unseal_positions
from doorstep.store.models import Case, ContactPoint

HOUR = 3600
COSTS = CostWeights()
"""The objective weights every plan is solved and costed with."""


def _hours(text: str, name: str) -> tuple[int, int]:
    """``"08:00-22:00"`` -> seconds since midnight; a clear error naming the setting."""
    try:
        a, b = (part.strip() for part in text.split("-"))
        start, end = (int(x[:2]) * HOUR + int(x[3:5]) * 60 for x in (a, b))
        if len(a) != 5 or len(b) != 5 or a[2] != ":" or b[2] != ":" or not 0 <= start < end:
            raise ValueError
        if end > 24 * HOUR:
            raise ValueError
    except ValueError:
        raise InvalidValue(
            f"{name} {text!r} is not HH:MM-HH:MM with start before end",
            message_zh=f"{name} {text!r} 应为 HH:MM-HH:MM，且开始早于结束",
        ) from None
    return start, end


def _minutes(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.rpartition(":")
        if not key or not value.isdigit() or not 0 < int(value) <= 600:
            raise InvalidValue(
                f"plan_service_minutes item {item!r} is not KIND:MINUTES (1..600)",
                message_zh=f"plan_service_minutes 项 {item!r} 应为 类型:分钟（1..600）",
            )
        out[key.strip()] = int(value)
    out.setdefault("default", 30)
    return out


@dataclass(frozen=True)
class PlanConfig:
    """How plans are made, from `Settings`."""

    allowed: AllowedHours = field(default_factory=AllowedHours)
    working: TimeWindow = field(default_factory=lambda: TimeWindow(9 * HOUR, 18 * HOUR))
    service_minutes: Mapping[str, int] = field(default_factory=lambda: {"default": 30})
    travel: TravelTimes = field(default_factory=GreatCircleTravel)
    seconds: float = 10.0
    edit_seconds: float = 3.0
    max_seconds: float = 60.0
    """The most solver seconds a request may ask for (`DOORSTEP_PLAN_MAX_SECONDS`)."""
    iterations: int | None = None
    """Also stop each search after this many iterations (a plan then depends only on the
    seed, not on the machine's speed: tests). None: the time budget alone."""
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    workers: int = 1
    """Seeds solved at once, one process each; the best plan is kept."""
    pack: Pack | None = None
    """The conduct rules: quiet hours become windows, holds and blocks exclusions."""
    clock: Clock = field(default_factory=SystemClock)
    cipher: Cipher | None = None
    """Opens the addresses' sealed positions (none: a plan with addresses is refused)."""
    """When the plan is made: which holds are active, how old each address is."""

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock | None = None, cipher: Cipher | None = None
    ) -> PlanConfig:
        """From the settings, with the app's cipher (else the one they configure)."""
        travel: TravelTimes = (
            OsrmTravel(settings.osrm_url)
            if settings.osrm_url
            else GreatCircleTravel(detour=settings.plan_detour, speed_kmh=settings.plan_speed_kmh)
        )
        return cls(
            allowed=AllowedHours(*_hours(settings.plan_allowed_hours, "plan_allowed_hours")),
            working=TimeWindow(*_hours(settings.plan_working_hours, "plan_working_hours")),
            service_minutes=_minutes(settings.plan_service_minutes),
            travel=travel,
            seconds=settings.plan_seconds,
            edit_seconds=settings.plan_edit_seconds,
            max_seconds=settings.plan_max_seconds,
            iterations=settings.plan_iterations,
            zone=settings.zone,
            workers=settings.plan_workers,
            pack=settings.rules_pack,
            clock=clock or SystemClock(),
            cipher=cipher or personal_data_keys(settings)[0],
        )

    def positions(self, points: Mapping[int, ContactPoint]) -> dict[int, Position]:
        """The opened positions of these contact points, in one pass (those without)."""
        ids = [i for i, p in points.items() if p.position is not None]
        opened = unseal_positions(self.cipher, [points[i].position for i in ids])
        return {i: p for i, p in zip(ids, opened, strict=True) if p is not None}

    def lawful(self, day: date) -> tuple[AllowedHours, tuple[tuple[int, int], ...]]:
        """The allowed hours of ``day``: the setting cut to the conduct rules' hours for
        planning a visit (outside every quiet-hours rule), and those lawful spans."""
        if self.pack is None:
            return self.allowed, ((self.allowed.start, self.allowed.end),)
        spans = tuple(
            (
                a.hour * HOUR + a.minute * 60,
                24 * HOUR if b == time.max else b.hour * HOUR + b.minute * 60,
            )
            for a, b in conduct.allowed_visit_hours(self.pack, day, self.zone)
        )
        start = max(self.allowed.start, min((a for a, _ in spans), default=self.allowed.end))
        end = min(self.allowed.end, max((b for _, b in spans), default=self.allowed.start))
        if start >= end:
            raise InvalidValue(
                "the conduct rules and plan_allowed_hours leave no time for a visit",
                message_zh="合规规则与 plan_allowed_hours 之间没有可外访的时段",
            )
        return AllowedHours(start, end), spans

    def service_seconds(self, case: Case) -> int:
        """Minutes at the door: skip-trace cases, then the case's bucket, then the default."""
        for key in (("skip_trace",) if case.skip_trace else ()) + (case.bucket, "default"):
            if key in self.service_minutes:
                return 60 * self.service_minutes[key]
        return 1800

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def at(self, day: date, seconds: int) -> datetime:
        """Seconds since the day's local midnight -> an aware UTC datetime."""
        return (self.midnight(day) + timedelta(seconds=seconds)).astimezone(UTC)

    def seconds_of(self, day: date, moment: datetime) -> int:
        return math.floor((moment - self.midnight(day)).total_seconds())

    def day_end(self, day: date) -> datetime:
        return self.midnight(day + timedelta(days=1)).astimezone(UTC)
