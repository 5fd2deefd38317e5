"""Holds as the conduct rules keep them: one `case_holds` row per hold, ending by its
type's end rule (`domain.case.HOLD_POLICIES`) and lifted early only by the roles that
rule names. `cases.hold_reason` mirrors the active hold: `services.cases.apply` writes
both, through `start_hold` and `lift_hold` here.

What the borrower tells us (a hardship, a complaint, a dispute, no visits at work) also
belongs to the customer (`customer_holds`): kept whether or not a case is open, and read
with the case's own holds (`hold_types`, `held_case_ids`, `held_customers`) until it
ends or is resolved, so a customer without an open case cannot be selected and visited
the next day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.case import HOLD_POLICIES, HoldReason
from doorstep.domain.errors import Forbidden
from doorstep.services.conduct import audit
from doorstep.store.models import Alert, Case, CaseHold, CustomerHold
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import conduct as repo

END_RULE = "end rule"
"""Who lifted a hold its end rule ended (`lifted_by`)."""


NO_WORK_VISIT = "no_work_visit"
"""A customer hold that forbids visits at the workplace only (not a hold of the case)."""
COMPLAINT_DAYS = 15
"""A complaint is answered within 15 days, else it is escalated (an alert)."""
DISPUTE_DAYS = 30
"""A dispute of the debt is answered within 30 days, else it is escalated."""
LATE_RESPONSE = "response_overdue"
"""The alert raised when a complaint or a dispute is not answered by its day."""


def hold_types(session: Session, case_id: int, now: datetime) -> tuple[str, ...]:
    """The types of the case's holds active at `now`, oldest first, then those its
    customer holds whatever the case (a report made before the case was opened)."""
    own = tuple(h.type for h in repo.active_holds(session, case_id, now))
    case = session.get(Case, case_id)
    if case is None:
        return own
    theirs = customer_hold_types(session, case.customer_id, now)
    return own + tuple(t for t in theirs if t not in own)


def customer_hold_types(session: Session, customer_id: str, now: datetime) -> tuple[str, ...]:
    """The customer's holds that stop contact and visits at `now` (not no-work-visit)."""
    held = repo.active_customer_holds(session, [customer_id], now)
    return tuple(dict.fromkeys(h.type for h in held if h.type != NO_WORK_VISIT))


def held_customers(session: Session, now: datetime) -> set[str]:
    """Every customer with a hold that stops contact and visits at `now`."""
    return {h.customer_id for h in repo.any_customer_holds(session, now) if h.type != NO_WORK_VISIT}


def no_work_visits(session: Session, customer_ids: list[str], now: datetime) -> set[str]:
    """The customers who asked not to be visited at work (still in force at `now`)."""
    held = repo.active_customer_holds(session, customer_ids, now)
    return {h.customer_id for h in held if h.type == NO_WORK_VISIT}


def held_case_ids(session: Session, case_ids: list[int], now: datetime) -> set[int]:
    """The cases among `case_ids` with an active hold, their own or their customer's (a
    plan must leave them out)."""
    kept = {c for c in case_ids if repo.active_holds(session, c, now)}
    cases = [c for c in (session.get(Case, i) for i in case_ids) if c is not None]
    held = repo.active_customer_holds(session, [c.customer_id for c in cases], now)
    blocked = {h.customer_id for h in held if h.type != NO_WORK_VISIT}
    kept |= {c.id for c in cases if c.customer_id in blocked}
    return kept | case_repo.with_hold_reason(session, case_ids)


def keep_for_customer(
    session: Session,
    actor: Actor,
    customer_id: str,
    why: str,
    note: str | None,
    now: datetime,
    *,
    ends_at: datetime | None = None,
    respond_by: datetime | None = None,
    detail: str | None = None,
) -> CustomerHold:
    """A hold of the customer, open case or not, until `ends_at` or until resolved."""
    hold = CustomerHold(
        customer_id=customer_id,
        type=why,
        detail=detail,
        started_at=now,
        ends_at=ends_at,
        respond_by=respond_by,
        note=note,
        started_by=actor.username,
    )
    session.add(hold)
    session.flush()
    audit.record(
        session, actor, "hold.customer", "customer", customer_id,
        {"hold": hold.id, "type": why, "detail": detail,
         "respond_by": respond_by.isoformat() if respond_by else None},
        reason=note,
    )  # fmt: skip
    return hold


def resolve_customer_hold(
    session: Session, actor: Actor, hold: CustomerHold, outcome: str, note: str, now: datetime
) -> None:
    """The hold's matter is settled (`outcome`): it stops holding, and says why."""
    hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor.username, note
    hold.outcome = outcome
    audit.record(
        session, actor, "hold.resolved", "customer", hold.customer_id,
        {"hold": hold.id, "type": hold.type, "outcome": outcome}, reason=note,
    )  # fmt: skip


def escalate_late(session: Session, now: datetime) -> list[Alert]:
    """One `response_overdue` alert for each complaint or dispute not answered by its
    day (once per hold), for the supervisors' alerts page."""
    raised = []
    for hold in repo.late_responses(session, now):
        alert = Alert(
            kind=LATE_RESPONSE,
            raised_at=now,
            detail={
                "customer_id": hold.customer_id,
                "hold": hold.id,
                "type": hold.type,
                "detail": hold.detail,
                "respond_by": hold.respond_by.isoformat() if hold.respond_by else None,
            },
        )
        session.add(alert)
        hold.escalated_at = now
        session.flush()
        audit.record(
            session, SYSTEM, "alert.response_overdue", "customer", hold.customer_id,
            {"alert": alert.id, "hold": hold.id, "type": hold.type},
        )  # fmt: skip
        raised.append(alert)
    return raised


def start_hold(
    session: Session, actor: Actor, case: Case, why: HoldReason, note: str | None, now: datetime
) -> CaseHold:
    """A case_holds row for a new hold, ending by its type's end rule."""
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
    session: Session, actor: Actor, case: Case, reason: str, now: datetime
) -> list[CaseHold]:
    """Lift every active hold of the case; refused (before any change) unless the actor's
    role may lift each."""
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
    lifted = {h.type for h in active}  # the customer's hold of the same matter ends with it
    for kept in repo.active_customer_holds(session, [case.customer_id], now):
        if kept.type in lifted:
            kept.lifted_at, kept.lifted_by, kept.lift_reason = now, actor.username, reason
            kept.outcome = kept.outcome or "lifted"
    return active


def end_expired(session: Session, now: datetime) -> list[CaseHold]:
    """Mark the holds their end rule has ended by `now` (e.g. a 60-day breathing space) as
    lifted by it, at their end; the cases they held are for the caller to release."""
    ended = repo.expired_holds(session, now)
    for hold in ended:
        hold.lifted_at, hold.lifted_by = hold.ends_at, END_RULE
        hold.lift_reason = HOLD_POLICIES[HoldReason(hold.type)].end_rule_en
    for kept in repo.expired_customer_holds(session, now):
        kept.lifted_at, kept.lifted_by, kept.lift_reason = kept.ends_at, END_RULE, "period over"
    session.flush()
    return ended
