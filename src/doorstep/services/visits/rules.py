"""The settings a visit is judged by: check-in limits, evidence size, the conduct pack;
and the personal-data cipher its positions and interview are sealed with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from doorstep.config import Settings
from doorstep.domain import checkin
from doorstep.domain.ports import Cipher
from doorstep.domain.rules import Pack
from doorstep.integrations.keys import personal_data_keys


@dataclass(frozen=True)
class VisitRules:
    """The settings a visit is judged by."""

    zone: ZoneInfo
    limits: checkin.Limits = field(default_factory=checkin.Limits)
    checkout_after: timedelta = timedelta(minutes=60)
    evidence_max_bytes: int = 20 * 1024 * 1024
    max_broken_promises: int = 2
    map_url: str = "https://uri.amap.com/marker?position={lng},{lat}"
    pack: Pack | None = None  # the conduct rules; None: the local hours rule alone
    cipher: Cipher | None = None  # seals positions and the interview (none: refused)

    @classmethod
    def from_settings(cls, settings: Settings, cipher: Cipher | None = None) -> VisitRules:
        """From the settings, with the app's cipher (else the one they configure)."""
        start, end = checkin.parse_hours(settings.visit_hours)
        return cls(
            zone=settings.zone,
            limits=checkin.Limits(
                max_distance_m=settings.visit_max_distance_m,
                hours_start=start,
                hours_end=end,
                max_accuracy_m=settings.visit_max_accuracy_m,
                max_clock_skew=timedelta(seconds=settings.visit_max_clock_skew_seconds),
                max_speed_kmh=settings.visit_max_speed_kmh,
            ),
            checkout_after=timedelta(minutes=settings.visit_checkout_minutes),
            evidence_max_bytes=settings.evidence_max_bytes,
            max_broken_promises=settings.max_broken_promises,
            map_url=settings.visit_map_url,
            pack=settings.rules_pack,
            cipher=cipher or personal_data_keys(settings)[0],
        )
