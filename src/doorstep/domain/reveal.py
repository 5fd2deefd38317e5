"""Revealing personal data: the purposes a person may state, and the limits of the pack's
`reveal_quota` rule (per-person rate, daily ceiling per role, the burst that alerts the
auditors, the size of a request that needs a second approver). Every number a person is
told comes from that one rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from doorstep.domain.errors import InvalidValue
from doorstep.domain.rules.model import Action, Rule
from doorstep.domain.rules.pack import Pack

QUOTA_KIND = "reveal_quota"


class Purpose(StrEnum):
    VISIT_PREPARATION = "visit_preparation"
    CONTACT_VERIFICATION = "contact_verification"
    BORROWER_REQUEST = "borrower_request"
    COMPLAINT_HANDLING = "complaint_handling"
    LEGAL = "legal"
    OTHER = "other"  # the person says what, in words


WORDS: Mapping[Purpose, tuple[str, str]] = MappingProxyType(
    {
        Purpose.VISIT_PREPARATION: ("外访准备", "visit preparation"),
        Purpose.CONTACT_VERIFICATION: ("核实联系方式", "contact verification"),
        Purpose.BORROWER_REQUEST: ("借款人本人要求", "borrower request"),
        Purpose.COMPLAINT_HANDLING: ("投诉处理", "complaint handling"),
        Purpose.LEGAL: ("法律程序", "legal"),
        Purpose.OTHER: ("其他", "other"),
    }
)
MIN_NOTE = 4


def stated_reason(purpose: str, note: str | None = None) -> tuple[Purpose, str]:
    """The purpose chosen from the list and the reason the audit trail keeps: the
    purpose's words, with the note when one is given; `other` needs a note."""
    try:
        chosen = Purpose(purpose)
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise InvalidValue(
            f"purpose: choose one of {known}", message_zh=f"用途：请从以下选择：{known}"
        ) from None
    text = (note or "").strip()
    if chosen is Purpose.OTHER and len(text) < MIN_NOTE:
        raise InvalidValue(
            f"reason: for another purpose, say what it is (at least {MIN_NOTE} characters)",
            message_zh=f"原因：选择“其他”时请说明用途（至少 {MIN_NOTE} 个字）",
        )
    zh, en = WORDS[chosen]
    return chosen, f"{zh} {en}" + (f": {text}" if text else "")


@dataclass(frozen=True, slots=True)
class Quota:
    """The reveal limits of a pack (its enabled `reveal_quota` rule)."""

    rule: Rule
    window_minutes: int
    per_window: int
    alert_after: int
    daily: Mapping[str, int]  # role -> reveals a day; a role not listed may not reveal
    bulk_threshold: int
    approval_hours: int

    def daily_for(self, role: str) -> int:
        return self.daily.get(role, 0)

    def window_of(self, now: datetime) -> int:
        """The number of the fixed window `now` falls in (windows start at the epoch)."""
        return int(now.timestamp()) // (self.window_minutes * 60)


def quota(pack: Pack) -> Quota | None:
    """The pack's reveal limits, or None when it has no enabled `reveal_quota` rule."""
    for rule in pack.for_action(Action.REVEAL_PERSONAL_DATA):
        if rule.kind == QUOTA_KIND:
            p = rule.params
            daily = {k.removeprefix("daily_"): v for k, v in p.items() if k.startswith("daily_")}
            return Quota(
                rule,
                p["window_minutes"],
                p["per_window"],
                p["alert_after"],
                MappingProxyType(daily),
                p["bulk_threshold"],
                p["approval_hours"],
            )
    return None
