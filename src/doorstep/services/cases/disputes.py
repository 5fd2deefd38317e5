"""Disputes of the debt: "not my loan", "amount wrong", "already paid". A dispute holds
every collection contact and visit of the customer (open case or not) until it is
resolved, is answered within `DISPUTE_DAYS` (else escalated: `conduct.escalate_late`),
and its outcome goes back to the lender (outbox `dispute.resolved`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import Caller, HoldReason
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.services import outbox
from doorstep.services.cases.transitions import apply
from doorstep.services.conduct import holds
from doorstep.store.models import CustomerHold
from doorstep.store.repositories import cases as repo


class DisputeKind(StrEnum):
    NOT_MY_LOAN = "not_my_loan"
    AMOUNT_WRONG = "amount_wrong"
    ALREADY_PAID = "already_paid"


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"  # the borrower was right: the lender corrects or withdraws
    REJECTED = "rejected"  # the debt stands as recorded, with the evidence sent
    CORRECTED = "corrected"  # partly right: the amount is corrected


DISPUTE = HoldReason.DISPUTE.value


def may_handle(actor: Actor) -> None:
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot handle disputes", message_zh="您的角色无权处理争议")


def open_dispute(
    session: Session, actor: Actor, customer_id: str, kind: DisputeKind, note: str, now: datetime
) -> CustomerHold:
    """Record a dispute: the customer is held at once (and their open case, if any)."""
    may_handle(actor)
    if repo.customer(session, customer_id) is None:
        raise NotFound(f"no customer {customer_id}", message_zh=f"没有客户 {customer_id}")
    if not note.strip():
        raise InvalidValue("note: say what is disputed", message_zh="note：请说明争议内容")
    hold = holds.keep_for_customer(
        session, actor, customer_id, DISPUTE, note.strip(), now,
        respond_by=now + timedelta(days=holds.DISPUTE_DAYS), detail=kind.value,
    )  # fmt: skip
    case = repo.open_cases_by_customer_of(session, customer_id)
    if case is not None and not case.hold_reason:
        apply(session, actor, case, "hold", by=Caller.CONDUCT, hold_reason=DISPUTE,
              reason=f"dispute: {kind.value}", now=now)  # fmt: skip
    return hold


def resolve_dispute(
    session: Session,
    actor: Actor,
    hold_id: int,
    outcome: DisputeOutcome,
    note: str,
    now: datetime,
) -> CustomerHold:
    """Answer a dispute: the hold ends (the open case's too) and the lender is told."""
    may_handle(actor)
    hold = session.get(CustomerHold, hold_id) if 0 < hold_id <= repo.MAX_ID else None
    if hold is None or hold.type != DISPUTE or hold.lifted_at is not None:
        raise NotFound(f"no open dispute {hold_id}", message_zh=f"没有未结的争议 {hold_id}")
    if not note.strip():
        raise InvalidValue("note: say how it was resolved", message_zh="note：请说明处理结果")
    holds.resolve_customer_hold(session, actor, hold, outcome.value, note.strip(), now)
    case = repo.open_cases_by_customer_of(session, hold.customer_id)
    if case is not None and case.hold_reason == DISPUTE:
        apply(session, actor, case, "release", by=Caller.CONDUCT,
              reason=f"dispute {outcome.value}", now=now)  # fmt: skip
    outbox.emit(
        session,
        "dispute.resolved",
        f"{hold.customer_id}/{hold.id}",
        {
            "customer_id": hold.customer_id,
            "kind": hold.detail,
            "outcome": outcome.value,
            "opened_at": hold.started_at.isoformat(),
            "respond_by": hold.respond_by.isoformat() if hold.respond_by else None,
            "resolved_at": now.isoformat(),
            "late": hold.respond_by is not None and now > hold.respond_by,
        },
        now=now,
    )
    return hold
