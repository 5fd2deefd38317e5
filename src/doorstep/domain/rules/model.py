"""What the conduct-rule engine talks about: actions, their contexts, rules, packs and
decisions. Every context is a frozen dataclass of facts the caller has already computed
(counts, times, flags); the engine only compares them with the pack's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo


class Action(StrEnum):
    PLAN_VISIT = "plan_visit"
    CHECK_IN = "check_in"
    CONTACT = "contact"
    REVEAL_PERSONAL_DATA = "reveal_personal_data"
    OFFER_PLAN = "offer_plan"
    ASSIGN_TO_AGENCY = "assign_to_agency"


class Outcome(StrEnum):
    ALLOWED = "allowed"
    WARNED = "warned"
    BLOCKED = "blocked"


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"


class Channel(StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    VISIT_TALK = "visit_talk"


class Relation(StrEnum):
    """Who is contacted, as the CBA 2026 guideline classes people."""

    DEBTOR = "debtor"
    GUARANTOR = "guarantor"
    RELATED_THIRD_PARTY = "related_third_party"
    UNRELATED_THIRD_PARTY = "unrelated_third_party"


THIRD_PARTIES = frozenset({Relation.RELATED_THIRD_PARTY, Relation.UNRELATED_THIRD_PARTY})


@dataclass(frozen=True, slots=True)
class ContactContext:
    """One call, SMS, e-mail or talk during a visit, about to be made."""

    at: datetime  # aware
    zones: tuple[ZoneInfo, ...]  # the person's zone(s); two when unclear (US: all must fit)
    channel: Channel
    relation: Relation = Relation.DEBTOR
    holds: tuple[str, ...] = ()  # active hold types of the case
    connected_calls_today: int = 0  # connected calls to the person today, all staff
    dial_attempts_today: int = 0  # dials to this number today (the person's local day)
    calls_last_7_days: int = 0  # counted calls about this debt in the last 7 days
    last_conversation_on: date | None = None  # local date of the last phone conversation
    requested_by_person: bool = False  # the person asked for this call
    agreed_time: bool = False  # the person agreed to be contacted at this time
    debtor_unreachable: bool = False
    contact_preagreed: bool = False
    contact_refused: bool = False
    discloses_debt: bool = False  # the script or template mentions the debt
    collects: bool = False  # asks the person to pay (not only to pass a message)
    cease_requested: bool = False
    attorney_represented: bool = False
    at_workplace_forbidden: bool = False
    opt_out_included: bool = True  # SMS / e-mail carry an opt-out
    location_calls_before: int = 0  # earlier location calls to this third party


@dataclass(frozen=True, slots=True)
class PlanVisitContext:
    """A stop in a visit plan: its arrival window at the person's address."""

    window_start: datetime
    window_end: datetime
    zones: tuple[ZoneInfo, ...]
    team_size: int
    holds: tuple[str, ...] = ()
    vulnerable: bool = False
    days_since_last_visit: int | None = None
    first_visit: bool = True
    notice_sent: bool = False


@dataclass(frozen=True, slots=True)
class CheckInContext:
    at: datetime
    zones: tuple[ZoneInfo, ...]
    verifiers_checked_in: int
    holds: tuple[str, ...] = ()
    id_shown: bool = False
    entering_home: bool = False
    entry_consent: bool = False
    recording_on: bool = False


@dataclass(frozen=True, slots=True)
class RevealContext:
    role: str
    purpose: str
    assignment_live: bool
    reveals_in_window: int = 0  # the person's reveals in the current window, these included
    reveals_today: int = 0  # the person's reveals today (business day), these included


@dataclass(frozen=True, slots=True)
class OfferContext:
    lender_type: str  # private | licensed | card
    apr_simple: Decimal  # 12 x monthly IRR rate, as a fraction (0.24 = 24%)
    irr_shown: bool
    total_cost_shown: bool
    periods: int
    lpr_1y: Decimal | None = None  # one-year LPR on the contract date (private lending)
    pressure_terms: tuple[str, ...] = ()
    options_considered: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssignContext:
    notice_sent: bool
    holds: tuple[str, ...] = ()


Context = (
    ContactContext
    | PlanVisitContext
    | CheckInContext
    | RevealContext
    | OfferContext
    | AssignContext
)
CONTEXTS: dict[Action, type[Any]] = {
    Action.CONTACT: ContactContext,
    Action.PLAN_VISIT: PlanVisitContext,
    Action.CHECK_IN: CheckInContext,
    Action.REVEAL_PERSONAL_DATA: RevealContext,
    Action.OFFER_PLAN: OfferContext,
    Action.ASSIGN_TO_AGENCY: AssignContext,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One parameterised rule of a pack; `origins` says where each parameter came from."""

    id: str
    kind: str
    actions: tuple[Action, ...]
    params: Mapping[str, Any]
    severity: Severity
    source: str
    message_zh: str
    message_en: str
    check: str = "PRE"  # PRE | REPORT | DESIGN (only PRE rules run in the engine)
    enabled: bool = True
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Fired:
    """A rule that fired: its severity, its message in both languages and the facts why."""

    rule_id: str
    severity: Severity
    message_zh: str
    message_en: str
    why: str


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    outcome: Outcome
    fired: tuple[Fired, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is not Outcome.BLOCKED

    @property
    def blocked(self) -> bool:
        return self.outcome is Outcome.BLOCKED

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(f.rule_id for f in self.fired)

    def explain(self, language: str = "en") -> str:
        zh = language.startswith("zh")
        return "; ".join(
            f"{f.rule_id}: {f.message_zh if zh else f.message_en} ({f.why})" for f in self.fired
        )
