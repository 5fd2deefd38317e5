"""Conduct rules in use: the effective pack, contexts built from the database, decisions
recorded, holds with their end rules, and the auditor's compliance report.

Entry points for other areas:

- `active_pack()` — the pack of this process (DOORSTEP_JURISDICTION, DOORSTEP_RULES_FILE),
  loaded once; `Settings` refuses to start with a broken pack.
- Planner: `allowed_visit_hours(pack, day, zone)` gives the local time windows in which a
  stop may be placed (the complement of the pack's quiet hours for `plan_visit`), and
  `check_plan_visit(session, case_id, window_start, window_end, team_size, pack=...)` the
  decision for one stop (quiet hours, team, holds, vulnerability, visit interval, notice).
  `held_case_ids(session, case_ids, now)` lists the cases a plan must leave out.
- Visit pages: `check_check_in(session, actor, case_id, at=..., verifiers_checked_in=...,
  id_shown=..., entering_home=..., entry_consent=..., recording_on=...)` returns the
  decision and records it when not allowed; `require(decision, override_reason)` raises
  `RuleBlocked` (blocked) or `ReasonRequired` (warned without a reason).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain import rules
from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import HOLD_POLICIES, HoldReason
from doorstep.domain.errors import (
    Forbidden,
    InvalidValue,
    NotFound,
    ReasonRequired,
    RuleBlocked,
)
from doorstep.domain.rules import Action, Decision, Outcome, Pack
from doorstep.domain.rules.kinds import _in_quiet
from doorstep.services.conduct import audit
from doorstep.store.models import Case, CaseHold, RuleDecision, TeamMember, User
from doorstep.store.repositories import cases as repo


@cache
def active_pack() -> Pack:
    """The effective pack of this process, from the DOORSTEP_* settings (loaded once)."""
    return Settings().rules_pack


def require(decision: Decision, override_reason: str | None) -> str | None:
    """Raise unless the action may go ahead; the cleaned reason of a warned one."""
    if decision.blocked:
        raise RuleBlocked(decision)
    reason = (override_reason or "").strip() or None
    if decision.outcome is Outcome.WARNED and reason is None:
        raise ReasonRequired(decision)
    return reason


def record_decision(
    session: Session,
    actor: Actor,
    decision: Decision,
    *,
    pack: Pack,
    case_id: int | None,
    performed: bool,
    override_reason: str | None = None,
    at: datetime | None = None,
) -> RuleDecision | None:
    """Keep a blocked or warned decision (an allowed one leaves no row) and audit it."""
    if decision.outcome is Outcome.ALLOWED:
        return None
    row = RuleDecision(
        at=at or datetime.now(UTC),
        action=decision.action.value,
        outcome=decision.outcome.value,
        rules=[
            {"id": f.rule_id, "severity": f.severity.value, "why": f.why} for f in decision.fired
        ],
        case_id=case_id,
        actor=actor.username,
        actor_id=actor.user_id,
        performed=performed,
        override_reason=override_reason,
        jurisdiction=pack.jurisdiction,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        f"rules.{decision.outcome.value}",
        "case" if case_id is not None else "rules",
        case_id if case_id is not None else decision.action.value,
        {"action": decision.action.value, "rules": list(decision.rule_ids), "performed": performed},
        reason=override_reason,
    )
    return row


# --- holds -------------------------------------------------------------------------------


def hold_types(session: Session, case_id: int, now: datetime | None = None) -> tuple[str, ...]:
    return tuple(h.type for h in repo.active_holds(session, case_id, now or datetime.now(UTC)))


def held_case_ids(session: Session, case_ids: list[int], now: datetime | None = None) -> set[int]:
    """The cases among `case_ids` with an active hold (a plan must leave them out)."""
    now = now or datetime.now(UTC)
    return {c for c in case_ids if repo.active_holds(session, c, now)} | set(
        session.scalars(select(Case.id).where(Case.id.in_(case_ids), Case.hold_reason.is_not(None)))
    )


def start_hold(
    session: Session,
    actor: Actor,
    case: Case,
    why: HoldReason,
    note: str | None,
    now: datetime | None = None,
) -> CaseHold:
    """A case_holds row for a new hold, ending by its type's end rule."""
    now = now or datetime.now(UTC)
    policy = HOLD_POLICIES[why]
    hold = CaseHold(
        case_id=case.id,
        type=why.value,
        started_at=now,
        ends_at=now + timedelta(days=policy.days) if policy.days else None,
        note=note,
        started_by=actor.username,
    )
    session.add(hold)
    return hold


def lift_hold(
    session: Session, actor: Actor, case: Case, reason: str, now: datetime | None = None
) -> list[CaseHold]:
    """Lift every active hold of the case; refused unless the actor's role may lift each."""
    now = now or datetime.now(UTC)
    active = repo.active_holds(session, case.id, now)
    for hold in active:
        known = hold.type in {h.value for h in HoldReason}
        policy = HOLD_POLICIES[HoldReason(hold.type)] if known else None
        if policy is not None and actor.role.value not in policy.lift_roles:
            raise Forbidden(
                f"a {hold.type} hold may be lifted only by {', '.join(sorted(policy.lift_roles))}"
                f" ({policy.end_rule_en})",
                message_zh=f"{hold.type} 暂停只能由 {'、'.join(sorted(policy.lift_roles))} 解除"
                f"（{policy.end_rule_zh}）",
            )
    for hold in active:
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor.username, reason
    return active


def expire_holds(session: Session, actor: Actor, now: datetime | None = None) -> int:
    """Mark holds ended by their end rule (e.g. a 60-day breathing space) as lifted, and
    clear `cases.hold_reason` where no other hold remains. Returns how many ended."""
    now = now or datetime.now(UTC)
    ended = repo.expired_holds(session, now)
    for hold in ended:
        hold.lifted_at, hold.lifted_by = hold.ends_at, "end rule"
        hold.lift_reason = HOLD_POLICIES[HoldReason(hold.type)].end_rule_en
        session.flush()
        case = session.get(Case, hold.case_id)
        if case is not None and not repo.active_holds(session, case.id, now):
            before = case.hold_reason
            case.hold_reason = None
            audit.record(
                session,
                actor,
                "case.hold_ended",
                "case",
                case.id,
                {"hold": hold.type, "from": before},
                reason=hold.lift_reason,
            )
    session.flush()
    return len(ended)


# --- planner and visit pages ---------------------------------------------------------------


def allowed_visit_hours(pack: Pack, day: date, zone: ZoneInfo) -> list[tuple[time, time]]:
    """The local wall-clock windows of `day` in `zone` in which a stop may be placed: the
    complement of every quiet-hours rule the pack applies to `plan_visit`. `time.max`
    stands for the end of the day. A DST change moves UTC offsets, not these local times:
    convert with `datetime.combine(day, t, tzinfo=zone)`."""
    allowed = [(0, 24 * 60)]
    for rule in pack.for_action(Action.PLAN_VISIT):
        if rule.kind != "quiet_hours":
            continue
        start, end = (_minutes(rule.params[k]) for k in ("start", "end"))
        quiet = [(start, 24 * 60), (0, end)] if start > end else [(start, end)]
        for q0, q1 in quiet:
            allowed = [
                piece
                for a0, a1 in allowed
                for piece in ((a0, min(a1, q0)), (max(a0, q1), a1))
                if piece[0] < piece[1]
            ]
    return [(_time(a), _time(b)) for a, b in sorted(allowed)]


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def _time(minutes: int) -> time:
    return time.max if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)


def in_quiet_hours(
    pack: Pack, at: datetime, zone: ZoneInfo, action: Action = Action.CONTACT
) -> bool:
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(
        _in_quiet(minute, _minutes(r.params["start"]), _minutes(r.params["end"]))
        for r in pack.for_action(action)
        if r.kind == "quiet_hours"
    )


def case_zone(pack: Pack, extra: dict[str, Any] | None = None) -> ZoneInfo:
    """The person's zone: a `timezone` kept with their data, else the pack's default."""
    name = (extra or {}).get("timezone")
    return ZoneInfo(name) if isinstance(name, str) and name else pack.default_zone


def check_plan_visit(
    session: Session,
    case_id: int,
    window_start: datetime,
    window_end: datetime,
    team_size: int,
    *,
    pack: Pack | None = None,
    zone: ZoneInfo | None = None,
    vulnerable: bool = False,
    notice_sent: bool = False,
) -> Decision:
    """The decision for planning one stop of `case_id` (holds and the last visit are read
    from the database). Pure read: record it with `record_decision` if it is kept."""
    pack = pack or active_pack()
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", message_zh=f"没有案件 {case_id}")
    holds = hold_types(session, case_id)
    if case.hold_reason and case.hold_reason not in holds:
        holds = (*holds, case.hold_reason)
    gap = (
        (window_start.astimezone(zone or pack.default_zone).date() - case.visited_on).days
        if (case.visited_on)
        else None
    )
    ctx = rules.PlanVisitContext(
        window_start,
        window_end,
        (zone or pack.default_zone,),
        team_size,
        holds=holds,
        vulnerable=vulnerable or HoldReason.VULNERABILITY.value in holds,
        days_since_last_visit=gap,
        first_visit=case.visited_on is None,
        notice_sent=notice_sent,
    )
    return rules.check(Action.PLAN_VISIT, ctx, pack)


def check_check_in(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    at: datetime,
    verifiers_checked_in: int,
    id_shown: bool,
    entering_home: bool,
    entry_consent: bool,
    recording_on: bool,
    zone: ZoneInfo | None = None,
    pack: Pack | None = None,
) -> Decision:
    """The decision for a check-in; recorded (not performed) when it is not allowed."""
    pack = pack or active_pack()
    ctx = rules.CheckInContext(
        at,
        (zone or pack.default_zone,),
        verifiers_checked_in,
        holds=hold_types(session, case_id, at),
        id_shown=id_shown,
        entering_home=entering_home,
        entry_consent=entry_consent,
        recording_on=recording_on,
    )
    decision = rules.check(Action.CHECK_IN, ctx, pack)
    record_decision(
        session,
        actor,
        decision,
        pack=pack,
        case_id=case_id,
        performed=not decision.blocked,
        at=at,
    )
    return decision


# --- the effective pack page ---------------------------------------------------------------


@dataclass(frozen=True)
class ParamRow:
    name: str
    value: str
    origin: str


def pack_rows(pack: Pack) -> list[dict[str, Any]]:
    """Each rule of the pack with its parameters and where each value came from."""
    from doorstep.domain.rules.kinds import shown

    out = []
    for rule in pack.rules:
        out.append(
            {
                "rule": rule,
                "params": [
                    ParamRow(k, shown(v), rule.origins.get(k, "")) for k, v in rule.params.items()
                ],
                "severity_origin": rule.origins.get("severity", ""),
                "enabled_origin": rule.origins.get("enabled", ""),
            }
        )
    return out


def require_reader(actor: Actor) -> None:
    if not actor.can(Permission.READ_RULES):
        raise Forbidden(
            "your role cannot read the conduct rules", message_zh="您的角色无权查看合规规则"
        )


# --- compliance report -------------------------------------------------------------------


@dataclass
class ReportRow:
    team: str
    verifier: str
    blocked: Counter[str] = field(default_factory=Counter)
    warned: Counter[str] = field(default_factory=Counter)
    overrides: list[str] = field(default_factory=list)
    contacts: int = 0
    quiet_hour_contacts: int = 0


@dataclass
class ComplianceReport:
    start: date
    end: date  # inclusive
    rows: list[ReportRow]
    holds: list[CaseHold]


def compliance_report(
    session: Session, actor: Actor, start: date, end: date, *, pack: Pack | None = None
) -> ComplianceReport:
    """Per team and verifier over [start, end] (business days in the pack's zone): actions
    blocked and warned by rule, overrides with reasons, performed contacts and those in
    quiet hours (should be none), and the holds active in the period."""
    require_reader(actor)
    if end < start:
        raise InvalidValue("the period ends before it starts", message_zh="报告期结束早于开始")
    pack = pack or active_pack()
    zone = pack.default_zone
    t0 = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    t1 = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    names: dict[int, str] = {i: n for i, n in session.execute(select(User.id, User.username))}
    teams: dict[int, str] = defaultdict(lambda: "—")
    from doorstep.store.models import Team

    for user_id, team_name in session.execute(
        select(TeamMember.user_id, Team.name).join(Team, Team.id == TeamMember.team_id)
    ):
        teams[user_id] = team_name
    by_user: dict[str, ReportRow] = {}

    def row_for(user_id: int | None, username: str | None = None) -> ReportRow:
        name = username or (names.get(user_id, "system") if user_id else "system")
        if name not in by_user:
            by_user[name] = ReportRow(teams[user_id] if user_id else "—", name)
        return by_user[name]

    for decision in repo.decisions_between(session, t0, t1):
        row = row_for(decision.actor_id, decision.actor)
        for fired in decision.rules:
            counter = row.blocked if decision.outcome == "blocked" else row.warned
            counter[fired["id"]] += 1
        if decision.override_reason:
            row.overrides.append(
                f"{decision.action} {decision.at:%Y-%m-%d %H:%M}: {decision.override_reason}"
            )
    for attempt in repo.attempts_between(session, t0, t1):
        if not attempt.performed:
            continue
        row = row_for(attempt.actor_id)
        row.contacts += 1
        person_zone = ZoneInfo(attempt.person_zone) if attempt.person_zone else zone
        if in_quiet_hours(pack, attempt.attempted_at, person_zone):
            row.quiet_hour_contacts += 1
    rows = sorted(by_user.values(), key=lambda r: (r.team, r.verifier))
    return ComplianceReport(start, end, rows, repo.holds_between(session, t0, t1))


def report_csv(report: ComplianceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["period_start", "period_end", "team", "verifier", "kind", "rule", "count", "detail"]
    )
    for row in report.rows:
        head = [report.start.isoformat(), report.end.isoformat(), row.team, row.verifier]
        for rule_id, n in sorted(row.blocked.items()):
            writer.writerow([*head, "blocked", rule_id, n, ""])
        for rule_id, n in sorted(row.warned.items()):
            writer.writerow([*head, "warned", rule_id, n, ""])
        for text in row.overrides:
            writer.writerow([*head, "override", "", 1, text])
        writer.writerow([*head, "contacts", "", row.contacts, ""])
        writer.writerow([*head, "quiet_hour_contacts", "", row.quiet_hour_contacts, ""])
    for hold in report.holds:
        writer.writerow(
            [
                report.start.isoformat(),
                report.end.isoformat(),
                "",
                hold.started_by,
                "hold",
                hold.type,
                1,
                f"case {hold.case_id} from {hold.started_at:%Y-%m-%d}"
                + (
                    f" lifted {hold.lifted_at:%Y-%m-%d} by {hold.lifted_by}"
                    if hold.lifted_at
                    else ""
                ),
            ]
        )
    return out.getvalue()


# --- retention ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionLine:
    table: str
    rule: str
    keep_years: int
    rows: int
    past_period: int  # rows older than the period
    legal_hold: int  # of those, kept because a hold applies
    action: str


def _records_years(pack: Pack) -> tuple[str, int]:
    for rule in pack.rules:
        for key in ("min_years", "years"):
            if rule.kind == "record" and key in rule.params:
                return rule.id, int(rule.params[key])
    return "(none in pack)", 6


def retention_report(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    pack: Pack,
    personal_data_years: int,
    dry_run: bool = True,
) -> list[RetentionLine]:
    """What retention would do at `now`: per table, the rows past their period and those a
    legal hold keeps. Records are kept at least the pack's minimum (CN-RETENTION: 5 years);
    personal data of customers whose cases are all closed or cancelled is due for
    minimising after `personal_data_years` unless a hold is active. The dry run only
    reports; the real run also minimises (`minimise_personal_data`). Both are audited.
    Records themselves are not deleted here: the audit chain is never cut, and deleting
    old contact logs is left to the operator's archive policy (the report says which)."""
    from sqlalchemy import func

    from doorstep.store.models import AuditEvent, ContactAttempt, Customer

    rule_id, years = _records_years(pack)
    cutoff = now - timedelta(days=round(365.25 * years))
    lines = []
    for table, column in (
        (ContactAttempt, ContactAttempt.attempted_at),
        (RuleDecision, RuleDecision.at),
        (CaseHold, CaseHold.started_at),
        (AuditEvent, AuditEvent.at),
    ):
        total = session.scalar(select(func.count()).select_from(table)) or 0
        old = session.scalar(select(func.count()).select_from(table).where(column < cutoff)) or 0
        action = (
            "keep (audit chain is never cut)"
            if table is AuditEvent
            else ("eligible for deletion" if old else "keep: within the minimum")
        )
        lines.append(RetentionLine(table.__tablename__, rule_id, years, total, old, 0, action))

    personal_cutoff = now - timedelta(days=round(365.25 * personal_data_years))
    closed = {"closed", "cancelled"}
    by_customer: dict[str, list[Case]] = defaultdict(list)
    for case in session.scalars(select(Case)):
        by_customer[case.customer_id].append(case)
    held = 0
    due: list[str] = []
    for customer_id, items in by_customer.items():
        if not all(c.state in closed for c in items):
            continue
        if max(c.updated_at for c in items) >= personal_cutoff:
            continue
        if any(c.hold_reason or repo.active_holds(session, c.id, now) for c in items):
            held += 1
        else:
            due.append(customer_id)
    customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    lines.append(
        RetentionLine(
            "customers (personal data)",
            "PIPL Arts 19, 47",
            personal_data_years,
            customers,
            len(due) + held,
            held,
            ("minimise" if dry_run else f"minimised {len(due)}") if due else "nothing due",
        )
    )
    if not dry_run:
        minimise_personal_data(session, due)
    audit.record(
        session,
        actor,
        "retention.dry_run" if dry_run else "retention.run",
        "retention",
        now.date().isoformat(),
        {line.table: {"past": line.past_period, "held": line.legal_hold} for line in lines}
        | ({} if dry_run else {"minimised_customers": sorted(due)}),
    )
    return lines


MINIMISED = "minimised"


def minimise_personal_data(session: Session, customer_ids: list[str]) -> int:
    """Keep what the records need (ids, masked forms, region, amounts, verdicts) and drop
    the rest of these customers' personal data: the encrypted national ID, phones and
    addresses and their lookup hashes, the full name (surname kept), the employer, the
    birth day (year kept), the positions of their visits and the free text of their
    interviews. Idempotent: minimised data stays minimised."""
    from sqlalchemy import update

    from doorstep.store.models import ContactPoint, Customer, Visit

    done = 0
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start : start + 500]
        for customer in session.scalars(select(Customer).where(Customer.customer_id.in_(chunk))):
            customer.name = (customer.name[:1] + "*") if customer.name else ""
            customer.id_number, customer.id_number_hash = "", MINIMISED
            customer.employer, customer.extra = None, None
            customer.birth_date = customer.birth_date.replace(month=1, day=1)
            done += 1
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id.in_(chunk))
        ):
            # the hash stays unique per point (it is part of the point's natural key)
            point.value, point.value_hash = "", f"{MINIMISED}-{point.id}"
            point.lat = point.lng = None
            point.extra = None
        case_ids = select(Case.id).where(Case.customer_id.in_(chunk))
        session.execute(
            update(Visit)
            .where(Visit.case_id.in_(case_ids))
            .values(lat=None, lng=None, out_lat=None, out_lng=None, interview=None)
        )
    session.flush()
    return done
