"""Every PRE rule of every shipped pack: at least one allowed case, one case where it fires
(blocked or warned) and one edge case, table-driven. A coverage test refuses a pack rule
without its three rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from doorstep.domain import rules
from doorstep.domain.rules import (
    Action,
    AssignContext,
    Channel,
    CheckInContext,
    ContactContext,
    OfferContext,
    Outcome,
    PlanVisitContext,
    Relation,
    RevealContext,
)

SH, NY, LA, LDN = (
    ZoneInfo(z)
    for z in ("Asia/Shanghai", "America/New_York", "America/Los_Angeles", "Europe/London")
)
PACKS = {j: rules.load(j) for j in rules.JURISDICTIONS}


def local(zone: ZoneInfo, y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=zone)


def call(zone: ZoneInfo = SH, when: datetime | None = None, **kw: Any) -> ContactContext:
    return ContactContext(
        at=when or local(zone, 2026, 3, 10, 14), zones=(zone,), channel=Channel.CALL, **kw
    )


def plan(zone: ZoneInfo = SH, start: int = 10, hours: int = 1, **kw: Any) -> PlanVisitContext:
    kw.setdefault("team_size", 2)
    begin = local(zone, 2026, 3, 10, start)
    return PlanVisitContext(begin, begin + timedelta(hours=hours), (zone,), **kw)


def checkin(zone: ZoneInfo = SH, hour: int = 10, **kw: Any) -> CheckInContext:
    base: dict[str, Any] = {"verifiers_checked_in": 2, "id_shown": True, "recording_on": True}
    base.update(kw)
    return CheckInContext(local(zone, 2026, 3, 10, hour), (zone,), **base)


def offer(**kw: Any) -> OfferContext:
    base: dict[str, Any] = {
        "lender_type": "licensed",
        "apr_simple": Decimal("0.18"),
        "irr_shown": True,
        "total_cost_shown": True,
        "periods": 12,
        "options_considered": ("more_time",),
    }
    base.update(kw)
    return OfferContext(**base)


def reveal(**kw: Any) -> RevealContext:
    base: dict[str, Any] = {
        "role": "manager",
        "purpose": "visit_preparation",
        "assignment_live": False,
    }
    base.update(kw)
    return RevealContext(**base)


TP = Relation.RELATED_THIRD_PARTY
OK_TP: dict[str, Any] = {"relation": TP, "debtor_unreachable": True, "contact_preagreed": True}


@dataclass(frozen=True)
class Row:
    pack: str
    rule: str
    label: str  # "allowed", "fires" or "edge: ..."
    action: Action
    ctx: Any
    fires: bool


R = Row
A = Action


def reveal_quota_rows(pack: str) -> list[Row]:
    """Every pack's reveal quota ships the same numbers: the same four rows each."""
    rule = f"{pack.upper()}-REVEAL-QUOTA"
    return [
        R(pack, rule, "allowed", A.REVEAL_PERSONAL_DATA,
          reveal(reveals_in_window=20, reveals_today=100), False),
        R(pack, rule, "fires", A.REVEAL_PERSONAL_DATA, reveal(reveals_in_window=21), True),
        R(pack, rule, "edge: a verifier's daily ceiling is lower than a manager's",
          A.REVEAL_PERSONAL_DATA,
          reveal(role="verifier", assignment_live=True, reveals_in_window=1, reveals_today=61),
          True),
        R(pack, rule, "edge: a role without a ceiling reveals nothing", A.REVEAL_PERSONAL_DATA,
          reveal(role="analyst", reveals_in_window=1, reveals_today=1), True),
    ]  # fmt: skip


ROWS = [
    # --- cn ---------------------------------------------------------------------------
    R("cn", "CN-HOURS", "allowed", A.CONTACT, call(when=local(SH, 2026, 3, 10, 21, 59)), False),
    R("cn", "CN-HOURS", "fires", A.CONTACT, call(when=local(SH, 2026, 3, 10, 22, 0)), True),
    R(
        "cn",
        "CN-HOURS",
        "edge: 08:00 opens",
        A.CONTACT,
        call(when=local(SH, 2026, 3, 10, 8)),
        False,
    ),
    R("cn", "CN-HOURS", "edge: 07:59", A.CONTACT, call(when=local(SH, 2026, 3, 10, 7, 59)), True),
    R(
        "cn",
        "CN-HOURS",
        "edge: agreed time",
        A.CONTACT,
        call(when=local(SH, 2026, 3, 10, 23), agreed_time=True),
        False,
    ),
    R(
        "cn",
        "CN-HOURS",
        "edge: UTC instant, Shanghai clock",
        A.CONTACT,
        call(when=datetime(2026, 3, 10, 14, 0, tzinfo=UTC)),
        True,
    ),  # 22:00 in Shanghai
    R("cn", "CN-HOURS", "allowed", A.PLAN_VISIT, plan(start=19, hours=3), False),
    R("cn", "CN-HOURS", "fires", A.PLAN_VISIT, plan(start=21, hours=2), True),
    R("cn", "CN-HOURS", "edge: window ends at 22:00", A.PLAN_VISIT, plan(start=20, hours=2), False),
    R("cn", "CN-HOURS", "fires", A.CHECK_IN, checkin(hour=7), True),
    R("cn", "CN-HOURS", "allowed", A.CHECK_IN, checkin(hour=8), False),
    R("cn", "CN-CALLS-EFFECTIVE", "allowed", A.CONTACT, call(connected_calls_today=2), False),
    R(
        "cn",
        "CN-CALLS-EFFECTIVE",
        "edge: the fourth connected call",
        A.CONTACT,
        call(connected_calls_today=3),
        True,
    ),
    R(
        "cn",
        "CN-CALLS-EFFECTIVE",
        "edge: SMS not counted",
        A.CONTACT,
        replace(call(connected_calls_today=3), channel=Channel.SMS),
        False,
    ),
    R("cn", "CN-CALLS-EFFECTIVE", "fires", A.CONTACT, call(connected_calls_today=5), True),
    R("cn", "CN-DIAL-ATTEMPTS", "allowed", A.CONTACT, call(dial_attempts_today=0), False),
    R(
        "cn",
        "CN-DIAL-ATTEMPTS",
        "edge: the sixth dial",
        A.CONTACT,
        call(dial_attempts_today=5),
        False,
    ),
    R("cn", "CN-DIAL-ATTEMPTS", "fires", A.CONTACT, call(dial_attempts_today=6), True),
    R("cn", "CN-HOLD", "allowed", A.CONTACT, call(), False),
    R("cn", "CN-HOLD", "fires", A.CONTACT, call(holds=("complaint",)), True),
    R("cn", "CN-HOLD", "edge: any type", A.PLAN_VISIT, plan(holds=("breathing_space",)), True),
    R("cn", "CN-HOLD", "fires", A.ASSIGN_TO_AGENCY, AssignContext(True, ("dispute",)), True),
    R("cn", "CN-DEBTOR-ONLY", "allowed", A.CONTACT, call(collects=True), False),
    R("cn", "CN-DEBTOR-ONLY", "fires", A.CONTACT, call(collects=True, **OK_TP), True),
    R(
        "cn",
        "CN-DEBTOR-ONLY",
        "edge: guarantor",
        A.CONTACT,
        call(collects=True, relation=Relation.GUARANTOR),
        False,
    ),
    R("cn", "CN-CONTACT-FALLBACK", "allowed", A.CONTACT, call(**OK_TP), False),
    R("cn", "CN-CONTACT-FALLBACK", "fires", A.CONTACT, call(relation=TP), True),
    R(
        "cn",
        "CN-CONTACT-FALLBACK",
        "edge: not pre-agreed",
        A.CONTACT,
        call(relation=TP, debtor_unreachable=True),
        True,
    ),
    R(
        "cn",
        "CN-CONTACT-FALLBACK",
        "edge: refused",
        A.CONTACT,
        call(contact_refused=True, **OK_TP),
        True,
    ),
    R("cn", "CN-THIRD-PARTY-CLASS", "allowed", A.CONTACT, call(discloses_debt=True), False),
    R("cn", "CN-THIRD-PARTY-CLASS", "fires", A.CONTACT, call(discloses_debt=True, **OK_TP), True),
    R(
        "cn",
        "CN-THIRD-PARTY-CLASS",
        "edge: unrelated third party",
        A.CONTACT,
        call(discloses_debt=True, relation=Relation.UNRELATED_THIRD_PARTY),
        True,
    ),
    R("cn", "CN-VISIT-TEAM", "allowed", A.PLAN_VISIT, plan(team_size=2), False),
    R("cn", "CN-VISIT-TEAM", "fires", A.PLAN_VISIT, plan(team_size=1), True),
    R(
        "cn",
        "CN-VISIT-TEAM",
        "edge: one device checked in",
        A.CHECK_IN,
        checkin(verifiers_checked_in=1),
        True,
    ),
    R("cn", "CN-VISIT-ID", "allowed", A.CHECK_IN, checkin(), False),
    R("cn", "CN-VISIT-ID", "fires", A.CHECK_IN, checkin(id_shown=False), True),
    R(
        "cn",
        "CN-VISIT-ID",
        "edge: outside, ID shown, no entry",
        A.CHECK_IN,
        checkin(entering_home=False),
        False,
    ),
    R(
        "cn",
        "CN-VISIT-ENTRY",
        "allowed",
        A.CHECK_IN,
        checkin(entering_home=True, entry_consent=True),
        False,
    ),
    R("cn", "CN-VISIT-ENTRY", "fires", A.CHECK_IN, checkin(entering_home=True), True),
    R(
        "cn",
        "CN-VISIT-ENTRY",
        "edge: not entering",
        A.CHECK_IN,
        checkin(entering_home=False),
        False,
    ),
    R("cn", "CN-VISIT-AV", "allowed", A.CHECK_IN, checkin(), False),
    R("cn", "CN-VISIT-AV", "fires", A.CHECK_IN, checkin(recording_on=False), True),
    R(
        "cn",
        "CN-VISIT-AV",
        "edge: entering with consent, no recording",
        A.CHECK_IN,
        checkin(recording_on=False, entering_home=True, entry_consent=True),
        True,
    ),
    R("cn", "CN-VISIT-INTERVAL", "allowed", A.PLAN_VISIT, plan(days_since_last_visit=7), False),
    R("cn", "CN-VISIT-INTERVAL", "fires", A.PLAN_VISIT, plan(days_since_last_visit=6), True),
    R("cn", "CN-VISIT-INTERVAL", "edge: never visited", A.PLAN_VISIT, plan(), False),
    R("cn", "CN-OUTSOURCE", "allowed", A.ASSIGN_TO_AGENCY, AssignContext(True), False),
    R("cn", "CN-OUTSOURCE", "fires", A.ASSIGN_TO_AGENCY, AssignContext(False), True),
    R(
        "cn",
        "CN-OUTSOURCE",
        "edge: notice but on hold",
        A.ASSIGN_TO_AGENCY,
        AssignContext(True, ("complaint",)),
        False,
    ),
    R("cn", "CN-PIPL-SENSITIVE", "allowed", A.REVEAL_PERSONAL_DATA, reveal(), False),
    R("cn", "CN-PIPL-SENSITIVE", "fires", A.REVEAL_PERSONAL_DATA, reveal(role="analyst"), True),
    R(
        "cn",
        "CN-PIPL-SENSITIVE",
        "edge: verifier without live assignment",
        A.REVEAL_PERSONAL_DATA,
        reveal(role="verifier"),
        True,
    ),
    R(
        "cn",
        "CN-PIPL-SENSITIVE",
        "edge: verifier with live assignment",
        A.REVEAL_PERSONAL_DATA,
        reveal(role="verifier", assignment_live=True),
        False,
    ),
    R(
        "cn",
        "CN-PIPL-SENSITIVE",
        "edge: undeclared purpose",
        A.REVEAL_PERSONAL_DATA,
        reveal(purpose="curiosity"),
        True,
    ),
    *reveal_quota_rows("cn"),
    R("cn", "CN-APR-DISPLAY", "allowed", A.OFFER_PLAN, offer(), False),
    R("cn", "CN-APR-DISPLAY", "fires", A.OFFER_PLAN, offer(irr_shown=False), True),
    R(
        "cn",
        "CN-APR-DISPLAY",
        "edge: total shown, rate not",
        A.OFFER_PLAN,
        offer(irr_shown=False, total_cost_shown=True),
        True,
    ),
    R("cn", "CN-TOTAL-COST", "allowed", A.OFFER_PLAN, offer(), False),
    R("cn", "CN-TOTAL-COST", "fires", A.OFFER_PLAN, offer(total_cost_shown=False), True),
    R(
        "cn",
        "CN-TOTAL-COST",
        "edge: rate shown, total not",
        A.OFFER_PLAN,
        offer(total_cost_shown=False, irr_shown=True),
        True,
    ),
    R(
        "cn",
        "CN-SPC-4LPR",
        "allowed",
        A.OFFER_PLAN,
        offer(lender_type="private", apr_simple=Decimal("0.12"), lpr_1y=Decimal("0.03")),
        False,
    ),
    R(
        "cn",
        "CN-SPC-4LPR",
        "fires",
        A.OFFER_PLAN,
        offer(lender_type="private", apr_simple=Decimal("0.1201"), lpr_1y=Decimal("0.03")),
        True,
    ),
    R(
        "cn",
        "CN-SPC-4LPR",
        "edge: LPR unknown",
        A.OFFER_PLAN,
        offer(lender_type="private", apr_simple=Decimal("0.05")),
        True,
    ),
    R("cn", "CN-LICENSED-CAP", "allowed", A.OFFER_PLAN, offer(apr_simple=Decimal("0.24")), False),
    R("cn", "CN-LICENSED-CAP", "fires", A.OFFER_PLAN, offer(apr_simple=Decimal("0.2401")), True),
    R(
        "cn",
        "CN-LICENSED-CAP",
        "edge: private lender not capped here",
        A.OFFER_PLAN,
        offer(lender_type="private", apr_simple=Decimal("0.30"), lpr_1y=Decimal("0.1")),
        False,
    ),
    R("cn", "CN-LICENSED-WATCH", "allowed", A.OFFER_PLAN, offer(apr_simple=Decimal("0.20")), False),
    R("cn", "CN-LICENSED-WATCH", "fires", A.OFFER_PLAN, offer(apr_simple=Decimal("0.21")), True),
    R(
        "cn",
        "CN-LICENSED-WATCH",
        "edge: card lender",
        A.OFFER_PLAN,
        offer(lender_type="card", apr_simple=Decimal("0.2001")),
        True,
    ),
    R("cn", "CN-HARDSHIP-PLAN", "allowed", A.OFFER_PLAN, offer(periods=12), False),
    R("cn", "CN-HARDSHIP-PLAN", "edge: 60 periods", A.OFFER_PLAN, offer(periods=60), False),
    R("cn", "CN-HARDSHIP-PLAN", "fires", A.OFFER_PLAN, offer(periods=61), True),
    # --- us ---------------------------------------------------------------------------
    R("us", "US-HOURS", "allowed", A.CONTACT, call(NY, local(NY, 2026, 3, 7, 20, 59)), False),
    R("us", "US-HOURS", "fires", A.CONTACT, call(NY, local(NY, 2026, 3, 7, 21, 0)), True),
    # DST starts in the US on 2026-03-08: the same UTC hour is 20:59 the day before and
    # 21:59 the day after; the check must follow the person's clock, not a fixed offset.
    R(
        "us",
        "US-HOURS",
        "edge: 01:59 UTC before the DST change is 20:59 EST",
        A.CONTACT,
        call(NY, datetime(2026, 3, 8, 1, 59, tzinfo=UTC)),
        False,
    ),
    R(
        "us",
        "US-HOURS",
        "edge: 01:59 UTC after the DST change is 21:59 EDT",
        A.CONTACT,
        call(NY, datetime(2026, 3, 10, 1, 59, tzinfo=UTC)),
        True,
    ),
    R(
        "us",
        "US-HOURS",
        "edge: two zones, one too early",
        A.CONTACT,
        replace(call(NY, local(NY, 2026, 3, 10, 10, 30)), zones=(NY, LA)),
        True,
    ),
    R(
        "us",
        "US-HOURS",
        "edge: window ends at 21:00",
        A.PLAN_VISIT,
        plan(NY, start=19, hours=2),
        False,
    ),
    R("us", "US-7IN7", "allowed", A.CONTACT, call(NY, calls_last_7_days=6), False),
    R("us", "US-7IN7", "fires", A.CONTACT, call(NY, calls_last_7_days=7), True),
    R(
        "us",
        "US-7IN7",
        "edge: conversation 6 days ago (day 7)",
        A.CONTACT,
        call(NY, last_conversation_on=date(2026, 3, 4)),
        True,
    ),
    R(
        "us",
        "US-7IN7",
        "edge: conversation 7 days ago (day 8)",
        A.CONTACT,
        call(NY, last_conversation_on=date(2026, 3, 3)),
        False,
    ),
    R(
        "us",
        "US-7IN7",
        "edge: requested by the person",
        A.CONTACT,
        call(NY, calls_last_7_days=9, requested_by_person=True),
        False,
    ),
    R(
        "us",
        "US-7IN7",
        "edge: texts do not count",
        A.CONTACT,
        replace(call(NY, calls_last_7_days=9), channel=Channel.SMS),
        False,
    ),
    R("us", "US-HOLD", "allowed", A.CONTACT, call(NY), False),
    R("us", "US-HOLD", "fires", A.CONTACT, call(NY, holds=("complaint",)), True),
    R("us", "US-HOLD", "edge: check-in on hold", A.CHECK_IN, checkin(NY, holds=("other",)), True),
    R("us", "US-VALIDATION", "allowed", A.CONTACT, call(NY, holds=("complaint",)), False),
    R("us", "US-VALIDATION", "fires", A.CONTACT, call(NY, holds=("written_dispute",)), True),
    R(
        "us",
        "US-VALIDATION",
        "edge: plan on a dispute",
        A.PLAN_VISIT,
        plan(NY, holds=("written_dispute",)),
        True,
    ),
    R("us", "US-THIRD-PARTY", "allowed", A.CONTACT, call(NY, relation=TP), False),
    R("us", "US-THIRD-PARTY", "fires", A.CONTACT, call(NY, relation=TP, discloses_debt=True), True),
    R(
        "us",
        "US-THIRD-PARTY",
        "edge: debtor may hear about the debt",
        A.CONTACT,
        call(NY, discloses_debt=True),
        False,
    ),
    R("us", "US-LOCATION-ONCE", "allowed", A.CONTACT, call(NY, relation=TP), False),
    R(
        "us",
        "US-LOCATION-ONCE",
        "fires",
        A.CONTACT,
        call(NY, relation=TP, location_calls_before=1),
        True,
    ),
    R(
        "us",
        "US-LOCATION-ONCE",
        "edge: second is over",
        A.CONTACT,
        call(NY, relation=TP, location_calls_before=2),
        True,
    ),
    R("us", "US-CEASE", "allowed", A.CONTACT, call(NY), False),
    R("us", "US-CEASE", "fires", A.CONTACT, call(NY, cease_requested=True), True),
    R(
        "us",
        "US-CEASE",
        "edge: SMS after cease",
        A.CONTACT,
        replace(call(NY, cease_requested=True), channel=Channel.SMS),
        True,
    ),
    R("us", "US-ATTORNEY", "allowed", A.CONTACT, call(NY), False),
    R("us", "US-ATTORNEY", "fires", A.CONTACT, call(NY, attorney_represented=True), True),
    R(
        "us",
        "US-ATTORNEY",
        "edge: third party of a represented debtor",
        A.CONTACT,
        call(NY, attorney_represented=True, relation=TP),
        False,
    ),
    R("us", "US-WORKPLACE", "allowed", A.CONTACT, call(NY), False),
    R("us", "US-WORKPLACE", "fires", A.CONTACT, call(NY, at_workplace_forbidden=True), True),
    R(
        "us",
        "US-WORKPLACE",
        "edge: visit talk at work",
        A.CONTACT,
        replace(call(NY, at_workplace_forbidden=True), channel=Channel.VISIT_TALK),
        True,
    ),
    R("us", "US-E-OPTOUT", "allowed", A.CONTACT, replace(call(NY), channel=Channel.SMS), False),
    R(
        "us",
        "US-E-OPTOUT",
        "fires",
        A.CONTACT,
        replace(call(NY, opt_out_included=False), channel=Channel.EMAIL),
        True,
    ),
    R(
        "us",
        "US-E-OPTOUT",
        "edge: a call has no opt-out",
        A.CONTACT,
        call(NY, opt_out_included=False),
        False,
    ),
    *reveal_quota_rows("us"),
    R("us", "US-PRIVACY", "allowed", A.REVEAL_PERSONAL_DATA, reveal(), False),
    R("us", "US-PRIVACY", "fires", A.REVEAL_PERSONAL_DATA, reveal(role="auditor"), True),
    R(
        "us",
        "US-PRIVACY",
        "edge: verifier without assignment",
        A.REVEAL_PERSONAL_DATA,
        reveal(role="verifier"),
        True,
    ),
    # --- uk ---------------------------------------------------------------------------
    R("uk", "UK-CONTACT", "allowed", A.CONTACT, call(LDN, local(LDN, 2026, 3, 30, 20, 59)), False),
    R("uk", "UK-CONTACT", "fires", A.CONTACT, call(LDN, local(LDN, 2026, 3, 30, 21, 0)), True),
    R(
        "uk",
        "UK-CONTACT",
        "edge: 20:30 UTC in BST is 21:30",
        A.CONTACT,
        call(LDN, datetime(2026, 3, 30, 20, 30, tzinfo=UTC)),
        True,
    ),
    R("uk", "UK-BREATHING-SPACE", "allowed", A.CONTACT, call(LDN), False),
    R("uk", "UK-BREATHING-SPACE", "fires", A.CONTACT, call(LDN, holds=("breathing_space",)), True),
    R(
        "uk",
        "UK-BREATHING-SPACE",
        "edge: other hold only",
        A.CONTACT,
        call(LDN, holds=("complaint",)),
        False,
    ),
    R("uk", "UK-HOLD", "allowed", A.PLAN_VISIT, plan(LDN), False),
    R("uk", "UK-HOLD", "fires", A.PLAN_VISIT, plan(LDN, holds=("vulnerability",)), True),
    R(
        "uk",
        "UK-HOLD",
        "edge: assignment on hold",
        A.ASSIGN_TO_AGENCY,
        AssignContext(True, ("dispute",)),
        True,
    ),
    R("uk", "UK-THIRD-PARTY", "allowed", A.CONTACT, call(LDN, relation=TP), False),
    R(
        "uk",
        "UK-THIRD-PARTY",
        "fires",
        A.CONTACT,
        call(LDN, relation=TP, discloses_debt=True),
        True,
    ),
    R(
        "uk",
        "UK-THIRD-PARTY",
        "edge: guarantor may know",
        A.CONTACT,
        call(LDN, relation=Relation.GUARANTOR, discloses_debt=True),
        False,
    ),
    R("uk", "UK-VISIT-VULNERABLE", "allowed", A.PLAN_VISIT, plan(LDN, notice_sent=True), False),
    R(
        "uk",
        "UK-VISIT-VULNERABLE",
        "fires",
        A.PLAN_VISIT,
        plan(LDN, notice_sent=True, vulnerable=True),
        True,
    ),
    R(
        "uk",
        "UK-VISIT-VULNERABLE",
        "edge: repeat visit, still vulnerable",
        A.PLAN_VISIT,
        plan(LDN, first_visit=False, vulnerable=True),
        True,
    ),
    R("uk", "UK-VISIT-NOTICE", "allowed", A.PLAN_VISIT, plan(LDN, notice_sent=True), False),
    R("uk", "UK-VISIT-NOTICE", "fires", A.PLAN_VISIT, plan(LDN), True),
    R(
        "uk",
        "UK-VISIT-NOTICE",
        "edge: not the first visit",
        A.PLAN_VISIT,
        plan(LDN, first_visit=False),
        False,
    ),
    R("uk", "UK-VISIT-ENTRY", "allowed", A.CHECK_IN, checkin(LDN), False),
    R("uk", "UK-VISIT-ENTRY", "fires", A.CHECK_IN, checkin(LDN, entering_home=True), True),
    R(
        "uk",
        "UK-VISIT-ENTRY",
        "edge: consent given",
        A.CHECK_IN,
        checkin(LDN, entering_home=True, entry_consent=True),
        False,
    ),
    R("uk", "UK-NO-PRESSURE", "allowed", A.OFFER_PLAN, offer(), False),
    R("uk", "UK-NO-PRESSURE", "fires", A.OFFER_PLAN, offer(pressure_terms=("lump_sum",)), True),
    R(
        "uk",
        "UK-NO-PRESSURE",
        "edge: an unlisted term",
        A.OFFER_PLAN,
        offer(pressure_terms=("direct_debit",)),
        False,
    ),
    R("uk", "UK-FORBEARANCE", "allowed", A.OFFER_PLAN, offer(), False),
    R("uk", "UK-FORBEARANCE", "fires", A.OFFER_PLAN, offer(options_considered=()), True),
    R(
        "uk",
        "UK-FORBEARANCE",
        "edge: two options",
        A.OFFER_PLAN,
        offer(options_considered=("more_time", "freeze_interest")),
        False,
    ),
    R("uk", "UK-APR-DISPLAY", "allowed", A.OFFER_PLAN, offer(), False),
    R("uk", "UK-APR-DISPLAY", "fires", A.OFFER_PLAN, offer(irr_shown=False), True),
    R(
        "uk",
        "UK-APR-DISPLAY",
        "edge: any apr value shown",
        A.OFFER_PLAN,
        offer(apr_simple=Decimal("0.99")),
        False,
    ),
    *reveal_quota_rows("uk"),
    R("uk", "UK-PRIVACY", "allowed", A.REVEAL_PERSONAL_DATA, reveal(role="admin"), False),
    R("uk", "UK-PRIVACY", "fires", A.REVEAL_PERSONAL_DATA, reveal(purpose=""), True),
    R(
        "uk",
        "UK-PRIVACY",
        "edge: verifier assigned",
        A.REVEAL_PERSONAL_DATA,
        reveal(role="verifier", assignment_live=True),
        False,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.rule}:{r.action.value}:{r.label}")
def test_rule_table(row: Row) -> None:
    pack = PACKS[row.pack]
    decision = rules.check(row.action, row.ctx, pack)
    assert (row.rule in decision.rule_ids) is row.fires, decision.explain()
    if row.fires:
        severity = pack.rule(row.rule).severity
        assert decision.outcome is (
            Outcome.BLOCKED if severity is rules.Severity.BLOCK else decision.outcome
        )
        assert decision.outcome is not Outcome.ALLOWED
        fired = next(f for f in decision.fired if f.rule_id == row.rule)
        assert fired.why and fired.message_zh and fired.message_en


def test_every_pre_rule_has_allowed_fired_and_edge_rows() -> None:
    missing = []
    for name, pack in PACKS.items():
        for rule in pack.rules:
            if rule.check != "PRE":
                continue
            mine = [r for r in ROWS if r.pack == name and r.rule == rule.id]
            if not (
                any(not r.fires for r in mine)
                and any(r.fires for r in mine)
                and any(r.label.startswith("edge") for r in mine)
            ):
                missing.append(f"{name}:{rule.id}")
    assert not missing


def test_warn_only_is_warned_and_block_wins() -> None:
    cn = PACKS["cn"]
    warned = rules.check(A.OFFER_PLAN, offer(apr_simple=Decimal("0.22")), cn)
    assert warned.outcome is Outcome.WARNED and warned.rule_ids == ("CN-LICENSED-WATCH",)
    both = rules.check(A.OFFER_PLAN, offer(apr_simple=Decimal("0.30")), cn)
    assert both.outcome is Outcome.BLOCKED
    assert set(both.rule_ids) == {"CN-LICENSED-CAP", "CN-LICENSED-WATCH"}
    assert rules.check(A.CONTACT, call(), cn).outcome is Outcome.ALLOWED


def test_every_rule_that_fired_is_reported() -> None:
    ctx = call(
        when=local(SH, 2026, 3, 10, 23),
        connected_calls_today=3,
        dial_attempts_today=6,
        holds=("dispute",),
    )
    decision = rules.check(A.CONTACT, ctx, PACKS["cn"])
    assert set(decision.rule_ids) == {
        "CN-HOURS",
        "CN-CALLS-EFFECTIVE",
        "CN-DIAL-ATTEMPTS",
        "CN-HOLD",
    }
    assert "22:00" in decision.explain("zh") and "CN-HOLD" in decision.explain()


def test_wrong_context_type_is_refused() -> None:
    with pytest.raises(TypeError, match="ContactContext"):
        rules.check(A.CONTACT, plan(), PACKS["cn"])
