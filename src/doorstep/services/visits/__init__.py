"""The visit (上门访谈): the verifier's day, check-in and check-out, the structured
interview with its evidence, the verdict and next step, and the manager's review.

A visit is created at check-in (the case goes scheduled → visiting) and submitted once:
the device sends an idempotency key, the submission claims the visit with a conditional
UPDATE (checked in → submitted), and the key is unique, so a retried or double submission
finds the first one instead of making a second (`DuplicateSubmission` tells the entry
point to roll back and answer with the visit the key names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.config import Settings
from doorstep.domain import checkin, hardship
from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import CaseState, CaseView, HoldReason, hold, transition
from doorstep.domain.errors import (
    AssignmentEnded,
    Conflict,
    DoorstepError,
    DuplicateSubmission,
    Forbidden,
    InvalidAnswers,
    InvalidValue,
    NotFound,
    TooFar,
)
from doorstep.domain.money import format_yuan, parse_yuan
from doorstep.domain.ports import Cipher
from doorstep.domain.reasons import REASONS
from doorstep.domain.rules import Action, Outcome, Pack, RevealContext, check
from doorstep.domain.verdict import (
    VULNERABILITIES,
    AddressStatus,
    Leaning,
    Met,
    NextStep,
    VerdictFacts,
    decide,
)
from doorstep.integrations import evidence as files
from doorstep.services.cases import contacts, get_case
from doorstep.services.conduct import audit
from doorstep.services.conduct import rules as conduct_rules
from doorstep.services.lender import outbox
from doorstep.store.models import (
    Assignment,
    AuditEvent,
    Case,
    ContactPoint,
    Customer,
    Evidence,
    PlanStop,
    PromiseToPay,
    User,
    Verdict,
    Visit,
)
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import visits as repo

OPEN = ("checked_in", "checked_out")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    message_zh: str


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

    @classmethod
    def from_settings(cls, settings: Settings) -> VisitRules:
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
        )


def _require(actor: Actor) -> None:
    if not actor.can(Permission.RECORD_VISITS):
        raise Forbidden("your role cannot record visits", message_zh="您的角色无权登记外访")


def _live_team(session: Session, actor: Actor, case_id: int, now: datetime) -> int:
    team_id = repo.live_team_of(session, case_id, actor.team_ids, now)
    if team_id is None:
        raise AssignmentEnded(
            f"case {case_id} is no longer assigned to your team: nothing was saved; your draft "
            "is kept on this phone, ask your supervisor",
            message_zh=f"案件 {case_id} 已不再分派给您的小组：未保存任何内容；草稿保留在本机，"
            "请联系主管",
        )
    return team_id


def _move(session: Session, actor: Actor, case: Case, action: str, reason: str | None) -> None:
    """One case transition (services/cases' rules), audited."""
    view = CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )
    after, event = transition(view, action, reason)
    case.state = after.state.value
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "the case was changed by someone else: reload it", message_zh="案件已被他人修改，请刷新"
        ) from None
    audit.record(
        session,
        actor,
        f"case.{action}",
        "case",
        case.id,
        {"from": event.before.value, "to": event.after.value},
        reason=reason,
    )


# --- The verifier's day ---------------------------------------------------------------


@dataclass
class DayStop:
    case: Case
    planned: bool
    seq: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    eta: datetime | None = None
    address: str | None = None  # clear text, revealed for the live assignment
    address_masked: str | None = None
    lat: float | None = None
    lng: float | None = None
    visit: Visit | None = None
    submitted: bool = False

    @property
    def geo_uri(self) -> str | None:
        if self.lat is None or self.lng is None:
            return None
        label = f"({quote(self.address)})" if self.address else ""
        return f"geo:{self.lat:.6f},{self.lng:.6f}?q={self.lat:.6f},{self.lng:.6f}{label}"


def customer_name(session: Session, case: Case) -> str:
    customer = case_repo.customer(session, case.customer_id)
    return customer.name if customer is not None else case.customer_id


def customer_names(session: Session, cases: Sequence[Case]) -> dict[int, str]:
    """Case id -> the customer's name, in one query (the day page lists a team's cases)."""
    wanted = {c.customer_id for c in cases}
    query = select(Customer.customer_id, Customer.name).where(Customer.customer_id.in_(wanted))
    found = dict(session.execute(query).all()) if wanted else {}
    return {c.id: found.get(c.customer_id, c.customer_id) for c in cases}


def map_link(template: str, stop: DayStop) -> str | None:
    if stop.lat is None or stop.lng is None or not template:
        return None
    return template.replace("{lat}", f"{stop.lat:.6f}").replace("{lng}", f"{stop.lng:.6f}")


def day(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    on: date,
    *,
    now: datetime,
    request_id: str | None = None,
    pack: Pack | None = None,
) -> list[DayStop]:
    """The actor's team's stops of the published plan of `on` in route order, then the
    cases scheduled for the team by hand. Each best address is revealed while the
    assignment is live: audited the first time this verifier sees it during the
    assignment, shown without a new audit event afterwards (the trail already says who saw
    which address, when and why). A stop whose case is not live-assigned is left out."""
    _require(actor)
    stops: list[DayStop] = []
    wanted: dict[int, int | None] = {}  # case -> the planned contact point
    planned = repo.planned_stops(session, actor.team_ids, on)
    assigned = repo.live_cases(session, [case.id for _, case in planned], actor.team_ids, now)
    for stop, case in planned:
        if case.id not in assigned:
            continue
        wanted[case.id] = stop.contact_point_id
        stops.append(
            DayStop(case, True, stop.seq, stop.window_start, stop.window_end, stop.arrive_at)
        )
    states = (CaseState.SCHEDULED.value, CaseState.VISITING.value)
    for case in repo.hand_scheduled(session, actor.team_ids, now, states):
        if case.id not in wanted:
            stops.append(DayStop(case, False))
    open_visits = repo.open_visits_of_cases(session, [s.case.id for s in stops])
    to_reveal: list[tuple[DayStop, ContactPoint]] = []
    every_ranked = contacts.ranked_many(session, [s.case.customer_id for s in stops], now)
    for s in stops:
        s.visit = open_visits.get(s.case.id)
        s.submitted = s.case.state not in states
        ranked = every_ranked[s.case.customer_id]
        chosen = next(
            (r for r in ranked if r.point.id == wanted.get(s.case.id)), None
        ) or contacts.best(ranked, "address")
        if chosen is None:
            continue
        s.address_masked = chosen.point.value_masked
        s.lat, s.lng = chosen.point.lat, chosen.point.lng
        if s.case.state in states:
            to_reveal.append((s, chosen.point))
    # Reads and checks first, the audit events last and back to back: each event locks the
    # audit chain's head until the caller commits, and every audited write of the service
    # waits for that lock.
    reason = f"外访路线 visit day {on.isoformat()}"
    live = _reveal_allowed(session, actor, [s.case.id for s, _ in to_reveal], now, pack)
    seen = _seen_this_assignment(session, actor, live)
    first: list[tuple[DayStop, ContactPoint]] = []
    for s, point in to_reveal:
        if s.case.id not in live or not point.value:
            # not plainly allowed, or nothing left to show: the reveal service decides,
            # records and explains, as for any reveal
            s.address = contacts.reveal(
                session,
                actor,
                cipher,
                s.case.id,
                field="contact_point",
                point_id=point.id,
                reason=reason,
                pack=pack or Settings().rules_pack,
                now=now,
                request_id=request_id,
            )
            continue
        s.address = cipher.decrypt(point.value)
        if (s.case.id, point.id) not in seen:
            first.append((s, point))
    for s, point in first:  # the same event `contacts.reveal` files under the case
        audit.record(
            session,
            actor,
            "personal_data.reveal",
            "case",
            s.case.id,
            {
                "customer_id": s.case.customer_id,
                "field": "contact_point",
                "contact_point": point.id,
            },
            reason=reason,
            request_id=request_id,
        )
    return stops


def _reveal_allowed(
    session: Session, actor: Actor, case_ids: Sequence[int], now: datetime, pack: Pack | None
) -> dict[int, datetime]:
    """Of `case_ids`, those whose contact points the actor may plainly see now, each with
    the start of its live assignment to the actor's team: the checks of `contacts.reveal`
    (a role that may reveal, the conduct rules allowing it without a warning for a live
    assignment), made once for the day. Empty when any is not met."""
    if not case_ids or not actor.can(Permission.REVEAL_PERSONAL_DATA):
        return {}
    if actor.role not in contacts.REVEAL_ROLES:
        return {}
    allowed = check(
        Action.REVEAL_PERSONAL_DATA,
        RevealContext(actor.role.value, "contact", True),
        pack or Settings().rules_pack,
    )
    if allowed.outcome is not Outcome.ALLOWED:
        return {}
    began: dict[int, datetime] = {}
    for case_id, starts_at in session.execute(
        select(Assignment.case_id, Assignment.starts_at).where(
            Assignment.case_id.in_(case_ids),
            Assignment.team_id.in_(actor.team_ids),
            Assignment.revoked_at.is_(None),
            Assignment.starts_at <= now,
            or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
        )
    ):
        began[case_id] = max(began.get(case_id, starts_at), starts_at)
    return began


def _seen_this_assignment(
    session: Session, actor: Actor, began: dict[int, datetime]
) -> set[tuple[int, int]]:
    """(case, contact point) pairs whose clear value this actor was shown (an audited
    reveal) since the case's live assignment began."""
    if not began:
        return set()
    seen: set[tuple[int, int]] = set()
    for object_id, at, summary in session.execute(
        select(AuditEvent.object_id, AuditEvent.at, AuditEvent.summary).where(
            AuditEvent.object_type == "case",
            AuditEvent.object_id.in_([str(c) for c in began]),
            AuditEvent.action == "personal_data.reveal",
            AuditEvent.actor == actor.username,
            AuditEvent.at >= min(began.values()),
        )
    ):
        case_id = int(object_id)
        point = (summary or {}).get("contact_point")
        if (summary or {}).get("field") == "contact_point" and at >= began[case_id] and point:
            seen.add((case_id, int(point)))
    return seen


# --- Check-in and check-out -----------------------------------------------------------


def _planned_point(
    session: Session, case: Case, stop: PlanStop | None, now: datetime
) -> checkin.Point | None:
    ranked = contacts.ranked(session, case.customer_id, now)
    wanted = stop.contact_point_id if stop is not None else None
    point = next((r for r in ranked if r.point.id == wanted), None) or contacts.best(
        ranked, "address"
    )
    if point is None or point.point.lat is None or point.point.lng is None:
        return None
    return checkin.Point(point.point.lat, point.point.lng)


def _plan_stop(session: Session, case_id: int, team_id: int, on: date) -> PlanStop | None:
    for stop, case in repo.planned_stops(session, frozenset({team_id}), on):
        if case.id == case_id:
            return stop
    return None


@dataclass(frozen=True)
class Conduct:
    """What the verifiers affirm at the door, for the conduct rules."""

    partner_present: bool = False
    id_shown: bool = False
    recording_on: bool = False
    entering_home: bool = False
    entry_consent: bool = False


def _conduct_check(
    session: Session,
    actor: Actor,
    case_id: int,
    conduct: Conduct,
    rules: VisitRules,
    now: datetime,
    reason: str | None,
) -> bool | None:
    """The conduct rules' decision on the check-in (blocked: `RuleBlocked`; warned without
    a reason: `ReasonRequired`; both recorded by the rules service). Returns whether the
    hour is allowed by the pack (None without a pack: the local hours rule decides)."""
    if rules.pack is None:
        return None
    decision = conduct_rules.check_check_in(
        session,
        actor,
        case_id,
        at=now,
        verifiers_checked_in=2 if conduct.partner_present else 1,
        id_shown=conduct.id_shown,
        entering_home=conduct.entering_home,
        entry_consent=conduct.entry_consent,
        recording_on=conduct.recording_on,
        zone=rules.zone,
        pack=rules.pack,
    )
    conduct_rules.require(decision, reason)
    pack = rules.pack
    return not any(pack.rule(f.rule_id).kind == "quiet_hours" for f in decision.fired)


def check_in(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    lat: float | None,
    lng: float | None,
    accuracy_m: float | None,
    device_time: datetime | None,
    rules: VisitRules,
    now: datetime,
    conduct: Conduct | None = None,
    reason: str | None = None,
    request_id: str | None = None,
) -> tuple[Visit, checkin.CheckInResult]:
    """Start the visit of a case: record both verifiers, the server's and the device's
    time, the position and its flags; the case goes scheduled → visiting. A second tap
    returns the open visit. The conduct rules decide first (a blocked check-in is refused;
    a warned one needs a reason); more than the allowed distance away is refused unless
    the verifier gives a reason (then the visit is flagged). Nothing but the rules'
    decision is written before a refusal."""
    _require(actor)
    team_id = _live_team(session, actor, case_id, now)
    case = get_case(session, actor, case_id)
    existing = repo.open_visit(session, case_id)
    if existing is not None:
        return existing, checkin.CheckInResult(existing.distance_m, ())
    where = checkin.position(lat, lng, "position")
    if accuracy_m is not None and not (0 <= accuracy_m < 1e7):
        raise InvalidValue(
            f"accuracy: {accuracy_m} is not an accuracy in metres",
            message_zh=f"accuracy：{accuracy_m} 不是以米为单位的精度",
        )
    if device_time is not None and device_time.tzinfo is None:
        raise InvalidValue(
            "device_time: needs a time zone offset", message_zh="device_time：需要时区偏移"
        )
    local = now.astimezone(rules.zone)
    stop = _plan_stop(session, case_id, team_id, local.date())
    previous = repo.previous_check_in(session, team_id, now)
    facts = checkin.CheckInFacts(
        server_time=now,
        local_time=local.time(),
        device_time=device_time,
        position=where,
        accuracy_m=accuracy_m,
        planned=_planned_point(session, case, stop, now),
        previous=(
            checkin.PreviousCheckIn(
                previous.checked_in_at, checkin.Point(previous.lat or 0.0, previous.lng or 0.0)
            )
            if previous is not None and previous.case_id != case_id
            else None
        ),
    )
    reason = (reason or "").strip() or None
    hours_ok = _conduct_check(session, actor, case_id, conduct or Conduct(), rules, now, reason)
    result = checkin.assess(facts, rules.limits, hours_ok=hours_ok)
    if result.far and (reason is None or len(reason) < 4):
        raise TooFar(result.distance_m or 0, rules.limits.max_distance_m)
    visit = Visit(
        case_id=case.id,
        plan_stop_id=stop.id if stop is not None else None,
        team_id=team_id,
        verifier_ids=repo.members_of(session, team_id),
        state="checked_in",
        checked_in_at=now,
        device_checked_in_at=device_time,
        lat=lat,
        lng=lng,
        accuracy_m=accuracy_m,
        distance_m=result.distance_m,
        flags=[f.value for f in result.flags],
        interview={"check_in_note": reason} if reason else None,
    )
    session.add(visit)
    session.flush()
    _move(session, actor, case, "start_visit", "check-in")
    audit.record(
        session,
        actor,
        "visit.check_in",
        "case",
        case.id,
        {
            "visit": visit.id,
            "team": team_id,
            "verifiers": visit.verifier_ids,
            "distance_m": result.distance_m,
            "accuracy_m": accuracy_m,
            "flags": visit.flags,
            "device_time": device_time.isoformat() if device_time else None,
            "conduct": (conduct or Conduct()).__dict__,
        },
        reason=reason,
        request_id=request_id,
    )
    return visit, result


def visit_of(session: Session, actor: Actor, visit_id: int) -> Visit:
    """A visit of one of the actor's teams (404 otherwise, so ids do not leak)."""
    visit = session.get(Visit, visit_id) if 0 < visit_id <= case_repo.MAX_ID else None
    if visit is None or visit.team_id not in actor.team_ids:
        raise NotFound(f"no visit {visit_id}", message_zh=f"没有外访 {visit_id}")
    return visit


def check_out(
    session: Session,
    actor: Actor,
    visit_id: int,
    *,
    lat: float | None,
    lng: float | None,
    device_time: datetime | None,
    now: datetime,
) -> Visit:
    _require(actor)
    visit = visit_of(session, actor, visit_id)
    where = checkin.position(lat, lng, "position")
    if visit.state != "checked_in":
        return visit  # already out (a second tap)
    visit.state = "checked_out"
    visit.checked_out_at = now
    visit.device_checked_out_at = device_time
    visit.out_lat, visit.out_lng = (where.lat, where.lng) if where else (None, None)
    session.flush()
    audit.record(
        session,
        actor,
        "visit.check_out",
        "case",
        visit.case_id,
        {"visit": visit.id, "minutes": round((now - visit.checked_in_at).total_seconds() / 60)},
    )
    return visit


# --- The interview --------------------------------------------------------------------

LABELS: dict[str, tuple[str, str]] = {
    "met": ("who was met", "会见对象"),
    "disclosure_ack": ("no-disclosure reminder", "不得向第三方披露债务提醒"),
    "address_status": ("address", "地址核实"),
    "reasons": ("reasons for default", "逾期原因"),
    "primary_reason": ("primary reason", "主要原因"),
    "employment": ("employment", "就业情况"),
    "monthly_income": ("monthly income", "月收入"),
    "essential_expenses": ("essential expenses", "每月必要支出"),
    "other_debts": ("other debts", "其他债务"),
    "dependants": ("dependants", "供养人数"),
    "willingness": ("willingness to pay", "还款意愿"),
    "ability_per_month": ("ability to pay per month", "每月还款能力"),
    "leaning": ("hardship or evasion", "困难或逃避"),
    "statement": ("borrower's statement", "借款人陈述"),
    "observations": ("observations", "外访员观察"),
    "vulnerabilities": ("vulnerability", "脆弱情形"),
    "outcome": ("promise or plan", "还款承诺或方案"),
    "promise_amount": ("promised amount", "承诺金额"),
    "promise_date": ("promised date", "承诺日期"),
    "evidence": ("evidence", "证据"),
    "idempotency_key": ("submission key", "提交标识"),
}
TEXT_LIMIT = 2000


@dataclass
class Interview:
    met: Met
    address_status: AddressStatus
    reasons: list[str]
    primary_reason: str | None
    employment: str | None
    monthly_income: int | None
    essential_expenses: int | None
    other_debts: int | None
    dependants: int | None
    willingness: int | None
    ability_per_month: int | None
    leaning: Leaning
    statement: str | None
    observations: str | None
    vulnerabilities: list[str]
    outcome: str  # none | promise | plan
    promise_amount: int | None
    promise_date: date | None

    @property
    def reached(self) -> bool:
        return self.met is Met.BORROWER

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, date):
                out[name] = value.isoformat()
            elif isinstance(value, Met | AddressStatus | Leaning):
                out[name] = value.value
            else:
                out[name] = value
        out["disclosure_ack"] = True
        return out


Answers = Mapping[str, str | list[str]]


def parse_interview(answers: Answers, today: date) -> Interview:
    """The interview from the form's answers; every problem names its field."""
    problems: list[Problem] = []

    def bad(name: str, en: str, zh: str) -> None:
        label_en, label_zh = LABELS[name]
        problems.append(Problem(name, f"{label_en}: {en}", f"{label_zh}：{zh}"))

    def one(name: str) -> str:
        value = answers.get(name, "")
        text = value[-1] if isinstance(value, list) and value else value
        return str(text or "").strip()

    def many(name: str) -> list[str]:
        value = answers.get(name, [])
        items = value if isinstance(value, list) else [value]
        return [str(v).strip() for v in items if str(v).strip()]

    def text(name: str) -> str | None:
        value = one(name)
        if len(value) > TEXT_LIMIT:
            bad(name, f"at most {TEXT_LIMIT} characters", f"最多 {TEXT_LIMIT} 个字")
        return value or None

    def money(name: str, required: bool = False) -> int | None:
        value = one(name)
        if not value:
            if required:
                bad(name, "required (yuan, 0 if none)", "必填（元，没有则填 0）")
            return None
        try:
            fen = parse_yuan(value)
        except DoorstepError:
            bad(name, f"{value!r} is not an amount in yuan", f"{value!r} 不是以元为单位的金额")
            return None
        if fen < 0 or fen > 100_000_000_00:
            bad(name, "must be between 0 and 100,000,000 yuan", "须在 0 至 1 亿元之间")
            return None
        return fen

    def choice(name: str, options: Sequence[str], default: str | None = None) -> str | None:
        value = one(name) or default
        if not value:
            bad(name, "required", "必填")
            return None
        if value not in options:
            bad(name, f"{value!r} is not one of {', '.join(options)}", f"{value!r} 不是有效选项")
            return None
        return value

    met = choice("met", [m.value for m in Met])
    if one("disclosure_ack") not in ("on", "true", "1", "yes"):
        bad(
            "disclosure_ack",
            "confirm that nothing about the debt was disclosed to anyone but the borrower",
            "请确认未向借款人以外的任何人透露债务情况",
        )
    address = choice("address_status", [a.value for a in AddressStatus])
    reached = met == Met.BORROWER.value
    reasons = many("reasons")
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        bad("reasons", f"unknown reason(s) {', '.join(unknown)}", f"未知原因 {', '.join(unknown)}")
    primary = one("primary_reason") or (reasons[0] if len(reasons) == 1 else "")
    if primary and primary not in reasons:
        bad("primary_reason", "must be one of the chosen reasons", "须为已选原因之一")
    if reached and not reasons:
        bad("reasons", "choose at least one reason", "请至少选择一个原因")
    elif reasons and not primary:
        bad("primary_reason", "choose the primary reason", "请选择主要原因")
    willingness: int | None = None
    raw = one("willingness")
    if raw:
        if raw.isdigit() and 1 <= int(raw) <= 5:
            willingness = int(raw)
        else:
            bad("willingness", "choose 1 to 5", "请选择 1 至 5")
    elif reached:
        bad(
            "willingness",
            "required when the borrower was met: choose 1 to 5",
            "会见借款人时必填：1 至 5",
        )
    ability = money("ability_per_month", required=reached)
    dependants: int | None = None
    raw = one("dependants")
    if raw:
        if raw.isdigit() and int(raw) <= 30:
            dependants = int(raw)
        else:
            bad("dependants", "a whole number from 0 to 30", "0 至 30 的整数")
    vulnerabilities = many("vulnerabilities")
    odd = [v for v in vulnerabilities if v not in VULNERABILITIES]
    if odd:
        bad("vulnerabilities", f"unknown flag(s) {', '.join(odd)}", f"未知情形 {', '.join(odd)}")
    outcome = choice("outcome", ("none", "promise", "plan"), default="none") or "none"
    promise_amount = promise_date = None
    if outcome == "promise":
        promise_amount = money("promise_amount", required=True)
        if promise_amount == 0:
            bad("promise_amount", "must be more than 0", "须大于 0")
        raw = one("promise_date")
        try:
            promise_date = date.fromisoformat(raw)
        except ValueError:
            bad("promise_date", "required, as YYYY-MM-DD", "必填，格式 YYYY-MM-DD")
        if promise_date is not None and not (today <= promise_date <= today + timedelta(days=90)):
            bad("promise_date", "must be within the next 90 days", "须在今后 90 天内")
            promise_date = None
        if not reached:
            bad("outcome", "only the borrower can promise to pay", "只有借款人本人可以承诺还款")
    elif outcome == "plan" and not reached:
        bad("outcome", "only the borrower can ask for a plan", "只有借款人本人可以申请还款方案")
    interview = Interview(
        met=Met(met) if met else Met.NOBODY,
        address_status=AddressStatus(address) if address else AddressStatus.VALID,
        reasons=reasons,
        primary_reason=primary or None,
        employment=text("employment"),
        monthly_income=money("monthly_income"),
        essential_expenses=money("essential_expenses"),
        other_debts=money("other_debts"),
        dependants=dependants,
        willingness=willingness,
        ability_per_month=ability,
        leaning=Leaning(choice("leaning", [x.value for x in Leaning], "unclear") or "unclear"),
        statement=text("statement"),
        observations=text("observations"),
        vulnerabilities=vulnerabilities,
        outcome=outcome,
        promise_amount=promise_amount,
        promise_date=promise_date,
    )
    if problems:
        raise InvalidAnswers(problems)
    return interview


# --- Evidence -------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    name: str | None
    data: bytes


def check_uploads(uploads: Sequence[Upload], max_bytes: int) -> list[tuple[Upload, str]]:
    """Each upload with its media type from its content, or every refusal at once."""
    problems: list[Problem] = []
    checked = []
    limit_mb = f"{max_bytes / 1024 / 1024:.0f}"
    for upload in uploads:
        name = (upload.name or "?")[:80]
        if len(upload.data) > max_bytes:
            problems.append(
                Problem(
                    "evidence",
                    f"evidence: {name} is larger than {limit_mb} MB",
                    f"证据：{name} 超过 {limit_mb} MB",
                )
            )
            continue
        media = files.sniff(upload.data[:64])
        if media is None:
            problems.append(
                Problem(
                    "evidence",
                    f"evidence: {name} is not a JPEG, PNG or HEIC photo "
                    "nor an M4A or MP3 recording",
                    f"证据：{name} 不是 JPEG、PNG、HEIC 照片或 M4A、MP3 录音",
                )
            )
            continue
        checked.append((upload, media))
    if problems:
        raise InvalidAnswers(problems)
    return checked


# --- Submission -----------------------------------------------------------------------

KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass
class Submission:
    visit: Visit
    verdict: Verdict
    replayed: bool = False


def submitted_with(session: Session, actor: Actor, key: str) -> Submission | None:
    """The submission an idempotency key made, if the actor's team made it."""
    visit = repo.visit_by_key(session, key)
    if visit is None or visit.team_id not in actor.team_ids or visit.state != "submitted":
        return None
    verdict = repo.verdict_of_visit(session, visit.id)
    return Submission(visit, verdict, replayed=True) if verdict is not None else None


def _advice(session: Session, case: Case, interview: Interview, broken: int) -> dict[str, Any]:
    """Advice on hardship vs evasion: the active model's, else the documented rule set's
    (the verifier's call stays the verdict's; advice is never an action)."""
    loans = [loan.loan_id for loan in case_repo.loans_of(session, case.customer_id)]
    paid = sum(
        p.amount for p in case_repo.payments_of(session, loans) if p.paid_on >= case.opened_on
    )
    facts = hardship.InterviewFacts(
        reasons=tuple(interview.reasons),
        primary_reason=interview.primary_reason,
        monthly_income_fen=interview.monthly_income,
        essential_expenses_fen=interview.essential_expenses,
        other_debts_fen=interview.other_debts,
        dependants=interview.dependants,
        willingness=interview.willingness,
        ability_per_month_fen=interview.ability_per_month,
        vulnerability=tuple(interview.vulnerabilities),
        borrower_reached=interview.reached,
        broken_promises=broken,
        paid_since_overdue_fen=paid,
        days_past_due=case.max_dpd,
    )
    from doorstep.services.scoring import hardship_advice  # loads the model stack lazily

    return hardship_advice(session, facts)


def submit(
    session: Session,
    actor: Actor,
    visit_id: int,
    key: str,
    answers: Answers,
    uploads: Sequence[Upload],
    *,
    store: files.EvidenceStore,
    rules: VisitRules,
    now: datetime,
    request_id: str | None = None,
) -> Submission:
    """Record the interview, its evidence, the verdict and next step, a promise to pay;
    the case goes visiting → visited (and on hold when the borrower is vulnerable); an
    outbox event tells the lender. Nothing is written when anything is refused."""
    _require(actor)
    if not KEY.match(key or ""):
        raise InvalidAnswers([Problem("idempotency_key", "missing or malformed", "缺失或格式错误")])
    earlier = submitted_with(session, actor, key)
    if earlier is not None:
        return earlier
    visit = visit_of(session, actor, visit_id)
    _live_team(session, actor, visit.case_id, now)
    if visit.state == "submitted":
        raise Conflict("this visit was already submitted", message_zh="该外访已提交")
    case = get_case(session, actor, visit.case_id)
    today = now.astimezone(rules.zone).date()
    interview = parse_interview(answers, today)
    checked = check_uploads(uploads, rules.evidence_max_bytes)
    broken = repo.broken_promises(session, case.customer_id)
    facts = VerdictFacts(
        reached=interview.reached,
        address_status=interview.address_status,
        leaning=interview.leaning,
        ability_per_month=interview.ability_per_month,
        vulnerable=bool(interview.vulnerabilities),
        promised=interview.outcome == "promise",
        plan_requested=interview.outcome == "plan",
        broken_promises=broken,
        unreached_before=repo.unreached_visits(session, case.id),
    )
    decision = decide(facts, max_broken_promises=rules.max_broken_promises)
    if facts.promised and not decision.promise_allowed:
        raise InvalidAnswers(
            [
                Problem(
                    "outcome",
                    f"promise or plan: {broken} promises were broken already, no new promise "
                    "may be taken: ask for a plan instead",
                    f"还款承诺或方案：已有 {broken} 次承诺未履行，不再接受新的承诺，请申请还款方案",
                )
            ]
        )

    # Claim the visit: the first write, so a concurrent submission waits here and then
    # finds the visit submitted (no row updated).
    try:
        result = session.execute(
            update(Visit)
            .where(Visit.id == visit.id, Visit.state.in_(OPEN))
            .values(
                state="submitted", idempotency_key=key, submitted_at=now, submitted_by=actor.user_id
            )
            .execution_options(synchronize_session=False)
        )
        claimed = result.rowcount  # type: ignore[attr-defined]
    except IntegrityError:
        raise DuplicateSubmission(
            "this submission was already received", message_zh="该提交已收到"
        ) from None
    if claimed != 1:
        raise DuplicateSubmission("this visit was already submitted", message_zh="该外访已提交")
    session.refresh(visit)

    hashes = []
    for upload, media in checked:
        digest = store.put(upload.data)
        exif = files.read_exif(upload.data, media, rules.zone)
        session.add(
            Evidence(
                visit_id=visit.id,
                sha256=digest,
                media_type=media,
                size_bytes=len(upload.data),
                original_name=(upload.name or "")[:255] or None,
                exif_lat=exif.lat,
                exif_lng=exif.lng,
                exif_taken_at=exif.taken_at,
                uploaded_at=now,
                uploaded_by=actor.user_id,
            )
        )
        hashes.append(digest)
        where = checkin.position(visit.lat, visit.lng) if visit.lat is not None else None
        shot = (
            checkin.Point(exif.lat, exif.lng)
            if exif.lat is not None and exif.lng is not None
            else None
        )
        for flag in checkin.exif_flags(
            where, visit.checked_in_at, shot, exif.taken_at, rules.limits
        ):
            if flag.value not in visit.flags:
                visit.flags = [*visit.flags, flag.value]

    note = (visit.interview or {}).get("check_in_note")
    visit.interview = {**interview.document(), "check_in_note": note}
    visit.met = interview.met.value
    if visit.checked_out_at is None:
        visit.checked_out_at = now
    verdict = Verdict(
        case_id=case.id,
        visit_id=visit.id,
        reached=interview.reached,
        address_status=interview.address_status.value,
        primary_reason=interview.primary_reason,
        reasons=interview.reasons,
        hardship_or_evasion=interview.leaning.value,
        advice=_advice(session, case, interview, broken),
        ability_per_month=interview.ability_per_month,
        willingness=interview.willingness,
        vulnerable=facts.vulnerable,
        next_step=decision.next_step.value,
        next_step_rule=decision.rule,
    )
    session.add(verdict)
    promise = None
    if interview.outcome == "promise" and interview.promise_amount and interview.promise_date:
        promise = PromiseToPay(
            case_id=case.id,
            customer_id=case.customer_id,
            visit_id=visit.id,
            amount=interview.promise_amount,
            due_on=interview.promise_date,
            status="open",
            paid=0,
        )
        session.add(promise)
    if visit.plan_stop_id is not None:
        stop = session.get(PlanStop, visit.plan_stop_id)
        if stop is not None:
            stop.status = "done"
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateSubmission(
            "this visit was already submitted", message_zh="该外访已提交"
        ) from None

    _move(session, actor, case, "record_visit", f"verdict: {decision.next_step.value}")
    case.visited_on = today
    if facts.vulnerable:
        view = CaseView(CaseState(case.state), None)
        if case.hold_reason is None:
            after, _event = hold(view, HoldReason.VULNERABILITY, "vulnerable borrower")
            case.hold_reason = HoldReason.VULNERABILITY.value
            note = "vulnerable borrower: " + ", ".join(interview.vulnerabilities)
            conduct_rules.start_hold(session, actor, case, HoldReason.VULNERABILITY, note, now)
            audit.record(
                session,
                actor,
                "case.hold",
                "case",
                case.id,
                {"from": case.state, "to": after.state.value, "hold": "vulnerability"},
                reason="vulnerability: " + ", ".join(interview.vulnerabilities),
            )
    session.flush()
    audit.record(
        session,
        actor,
        "visit.submit",
        "case",
        case.id,
        {
            "visit": visit.id,
            "idempotency_key": key,
            "met": interview.met.value,
            "next_step": decision.next_step.value,
            "rule": decision.rule,
            "evidence_sha256": hashes,
            "flags": visit.flags,
            "promise": format_yuan(promise.amount) if promise else None,
        },
        request_id=request_id,
    )
    payload = feedback_payload(session, case, visit, verdict, promise, hashes)
    outbox.emit(session, "visit.verdict", str(case.id), payload)
    return Submission(visit, verdict)


def feedback_payload(
    session: Session,
    case: Case,
    visit: Visit,
    verdict: Verdict,
    promise: PromiseToPay | None,
    hashes: list[str],
) -> dict[str, Any]:
    """The lender's view of a verdict (DESIGN §5 feedback columns)."""
    return {
        "case_id": case.id,
        "customer_id": case.customer_id,
        "loan_ids": [loan.loan_id for loan in case_repo.loans_of(session, case.customer_id)],
        "visit_id": visit.id,
        "checked_in_at": visit.checked_in_at.isoformat(),
        "checked_out_at": visit.checked_out_at.isoformat() if visit.checked_out_at else None,
        "reached": verdict.reached,
        "address_valid": verdict.address_status,
        "reason": verdict.primary_reason,
        "reasons": list(verdict.reasons),
        "hardship_or_evasion": verdict.hardship_or_evasion,
        "ability": format_yuan(verdict.ability_per_month)
        if verdict.ability_per_month is not None
        else None,
        "willingness": verdict.willingness,
        "ptp_amount": format_yuan(promise.amount) if promise else None,
        "ptp_date": promise.due_on.isoformat() if promise else None,
        "next_step": verdict.override_step or verdict.next_step,
        "verifier_ids": list(visit.verifier_ids),
        "evidence_sha256": hashes,
        "flags": list(visit.flags),
    }


@dataclass(frozen=True)
class EvidenceProblem:
    evidence_id: int
    sha256: str
    problem: str  # missing | changed | not_audited


def verify_evidence(session: Session, store: files.EvidenceStore) -> list[EvidenceProblem]:
    """Every stored file still hashes to its name, and every hash is in the audit trail
    of its visit's submission: a file changed or swapped later shows up here."""
    audited: set[str] = set()
    for summary in repo.submission_summaries(session):
        audited.update(summary.get("evidence_sha256") or [])
    problems = []
    for item in repo.all_evidence(session):
        if not store.exists(item.sha256):
            problems.append(EvidenceProblem(item.id, item.sha256, "missing"))
        elif files.sha256_of(store.get(item.sha256)) != item.sha256:
            problems.append(EvidenceProblem(item.id, item.sha256, "changed"))
        elif item.sha256 not in audited:
            problems.append(EvidenceProblem(item.id, item.sha256, "not_audited"))
    return problems


# --- The manager's review -------------------------------------------------------------


@dataclass
class VerdictView:
    verdict: Verdict
    visit: Visit
    evidence: list[Evidence]
    promise: PromiseToPay | None
    verifiers: list[str]


def verdict_view(session: Session, actor: Actor, case_id: int) -> VerdictView | None:
    """The case's latest verdict with its visit, evidence and promise (None before any)."""
    case = get_case(session, actor, case_id)
    verdict = repo.latest_verdict(session, case.id)
    if verdict is None:
        return None
    visit = session.get(Visit, verdict.visit_id)
    assert visit is not None
    names = (
        session.scalars(select(User.display_name).where(User.id.in_(visit.verifier_ids))).all()
        if visit.verifier_ids
        else []
    )
    return VerdictView(
        verdict,
        visit,
        repo.evidence_of(session, visit.id),
        repo.promise_of_visit(session, visit.id),
        list(names),
    )


def _manager(actor: Actor) -> None:
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot review verdicts", message_zh="您的角色无权审核结论")


def review(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    override_step: str | None,
    reason: str | None,
    now: datetime,
) -> Verdict:
    """The manager accepts the verdict, or overrides its next step with a reason."""
    _manager(actor)
    view = verdict_view(session, actor, case_id)
    if view is None:
        raise NotFound(f"case {case_id} has no verdict", message_zh=f"案件 {case_id} 尚无核实结论")
    verdict = view.verdict
    reason = (reason or "").strip() or None
    step = (override_step or "").strip() or None
    if step is not None:
        if step not in {s.value for s in NextStep}:
            raise InvalidAnswers(
                [
                    Problem(
                        "override_step", f"next step: unknown {step!r}", f"后续处置：未知 {step!r}"
                    )
                ]
            )
        if step != verdict.next_step and (reason is None or len(reason) < 4):
            raise InvalidAnswers(
                [
                    Problem(
                        "override_reason",
                        "reason: say why the next step is changed (at least 4 characters)",
                        "原因：请说明修改后续处置的原因（至少 4 个字）",
                    )
                ]
            )
        if step == verdict.next_step:
            step = None
    before = verdict.override_step or verdict.next_step
    verdict.override_step = step
    verdict.override_reason = reason if step else None
    verdict.reviewed_by = actor.user_id
    verdict.reviewed_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "verdict.override" if step else "verdict.review",
        "case",
        case_id,
        {"verdict": verdict.id, "from": before, "to": step or verdict.next_step},
        reason=reason,
    )
    return verdict


def close(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str | None,
    now: datetime,
) -> Case:
    """Close a visited case (reviewing its verdict as it stands, if nobody has)."""
    _manager(actor)
    view = verdict_view(session, actor, case_id)
    if view is None:
        raise NotFound(f"case {case_id} has no verdict", message_zh=f"案件 {case_id} 尚无核实结论")
    if view.verdict.reviewed_at is None:
        review(session, actor, case_id, override_step=None, reason=None, now=now)
    case = get_case(session, actor, case_id)
    _move(session, actor, case, "close", (reason or "").strip() or "verdict reviewed")
    outbox.emit(
        session,
        "case.closed",
        str(case.id),
        {
            "case_id": case.id,
            "customer_id": case.customer_id,
            "next_step": view.verdict.override_step or view.verdict.next_step,
            "closed_at": now.isoformat(),
        },
    )
    return case
