"""The conduct rules deciding one action: the pack's quiet hours as visit windows, the
decision for planning a stop and for a check-in, and keeping the decisions that blocked
or warned (with their audit event)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain import rules
from doorstep.domain.access import Actor, Role
from doorstep.domain.case import HoldReason
from doorstep.domain.errors import (
    Forbidden,
    InvalidValue,
    NotFound,
    ReasonRequired,
    RuleBlocked,
)
from doorstep.domain.rules import Action, Decision, Outcome, Pack
from doorstep.domain.rules.kinds import in_quiet
from doorstep.services.conduct import audit
from doorstep.services.conduct.holds import hold_types
from doorstep.store.models import Case, RuleDecision
from doorstep.store.repositories import conduct as log


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
    at: datetime,
    override_reason: str | None = None,
    keep_allowed: bool = False,
) -> RuleDecision | None:
    """Keep a blocked or warned decision and audit it; an allowed one leaves no row unless
    `keep_allowed` (planning keeps one per routed stop), and is never audited."""
    if decision.outcome is Outcome.ALLOWED and not keep_allowed:
        return None
    row = RuleDecision(
        at=at,
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
    if decision.outcome is Outcome.ALLOWED:
        return row
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
        in_quiet(minute, _minutes(r.params["start"]), _minutes(r.params["end"]))
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
    pack: Pack,
    now: datetime,
    zone: ZoneInfo | None = None,
    vulnerable: bool = False,
    notice_sent: bool = False,
) -> Decision:
    """The decision for planning one stop of `case_id` (its holds active at `now` and its
    last visit are read from the database). Pure read: record it with `record_decision`
    if it is kept."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", message_zh=f"没有案件 {case_id}")
    holds = hold_types(session, case_id, now)
    if case.hold_reason and case.hold_reason not in holds:
        holds = (*holds, case.hold_reason)
    zone = zone or pack.default_zone
    gap = (window_start.astimezone(zone).date() - case.visited_on).days if case.visited_on else None
    ctx = rules.PlanVisitContext(
        window_start,
        window_end,
        (zone,),
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
    pack: Pack,
    zone: ZoneInfo | None = None,
) -> Decision:
    """The decision for a check-in; recorded (not performed) when it is not allowed."""
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


INTERVAL_KIND = "visit_gap"
"""The rule kind of the visit interval (CN-VISIT-INTERVAL): a warning, which the planner
nevertheless does not route past unless a manager overrode it for the case."""
OVERRIDE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


def interval_warned(decision: Decision, pack: Pack) -> bool:
    """Whether the visit-interval rule fired in `decision`."""
    return any(pack.rule(f.rule_id).kind == INTERVAL_KIND for f in decision.fired)


def override_visit_interval(
    session: Session, actor: Actor, case_id: int, reason: str, *, pack: Pack, now: datetime
) -> RuleDecision:
    """A manager lets the planner route a case visited within the interval, with a reason:
    kept as a performed warned decision (and audited); valid for the interval's length."""
    if actor.role not in OVERRIDE_ROLES:
        raise Forbidden("only a manager may override the visit interval",
                        message_zh="只有经理可以越过外访间隔")  # fmt: skip
    cleaned = reason.strip()
    if len(cleaned) < 4:
        raise InvalidValue("reason: say why the case is visited again so soon",
                           message_zh="reason：请说明为何间隔未满即再次外访")  # fmt: skip
    decision = check_plan_visit(session, case_id, now, now, 2, pack=pack, now=now)
    if not interval_warned(decision, pack):
        raise InvalidValue("the case is not within the visit interval",
                           message_zh="该案件未处于外访间隔期内")  # fmt: skip
    row = record_decision(session, actor, decision, pack=pack, case_id=case_id,
                          performed=True, at=now, override_reason=cleaned)  # fmt: skip
    assert row is not None
    return row


def interval_overridden(
    session: Session, case_ids: list[int], pack: Pack, now: datetime
) -> dict[int, str]:
    """The cases a manager let through the visit interval, still in force at `now`: case
    -> the reason given."""
    days = max((int(r.params["min_days"]) for r in pack.for_action(Action.PLAN_VISIT)
                if r.kind == INTERVAL_KIND), default=0)  # fmt: skip
    since = now - timedelta(days=days)
    return log.overrides_since(session, case_ids, Action.PLAN_VISIT.value, since)
