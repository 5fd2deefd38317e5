"""Promises to pay (承诺还款), judged by the batch from the payments that followed them.

A promise is kept when the customer's payments from the day it was made up to its date
plus the grace days add up to its amount; once that window has passed it is partly kept
(something came) or broken (nothing came). A broken promise reopens follow-up with an
Alert for the case's owner, and the lender hears of every judgement through the outbox.
Judged promises are never judged again, so a rerun changes nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.money import format_yuan
from doorstep.services.conduct import audit
from doorstep.services.lender.outbox import emit
from doorstep.store.models import Alert, Loan, Payment, PromiseToPay

OPEN, KEPT, PARTLY_KEPT, BROKEN = "open", "kept", "partly_kept", "broken"


@dataclass
class PromiseRun:
    as_of: date
    judged: dict[str, int] = field(default_factory=lambda: {KEPT: 0, PARTLY_KEPT: 0, BROKEN: 0})
    still_open: int = 0


def judge_promises(
    session: Session, as_of: date, *, grace_days: int = 3, actor: Actor = SYSTEM
) -> PromiseRun:
    run = PromiseRun(as_of)
    promises = session.scalars(
        select(PromiseToPay).where(PromiseToPay.status == OPEN).order_by(PromiseToPay.id)
    ).all()
    if not promises:
        return run
    customers = {p.customer_id for p in promises}
    earliest = min(p.created_at.date() for p in promises)
    payments: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for customer_id, paid_on, amount in session.execute(
        select(Loan.customer_id, Payment.paid_on, Payment.amount)
        .join(Loan, Loan.loan_id == Payment.loan_id)
        .where(
            Loan.customer_id.in_(customers), Payment.paid_on >= earliest, Payment.paid_on <= as_of
        )
    ):
        payments[customer_id].append((paid_on, amount))
    for promise in promises:
        start, deadline = promise.created_at.date(), promise.due_on + timedelta(days=grace_days)
        paid = sum(
            amount
            for paid_on, amount in payments[promise.customer_id]
            if start <= paid_on <= min(deadline, as_of)
        )
        if paid >= promise.amount:
            status = KEPT
        elif as_of > deadline:
            status = PARTLY_KEPT if paid > 0 else BROKEN
        else:
            if promise.paid != paid:
                promise.paid = paid  # progress so far; judged when the window closes
            run.still_open += 1
            continue
        promise.status, promise.paid, promise.judged_on = status, paid, as_of
        run.judged[status] += 1
        summary = {
            "status": status,
            "amount": format_yuan(promise.amount),
            "paid": format_yuan(paid),
            "due_on": promise.due_on.isoformat(),
        }
        audit.record(session, actor, "promise.judge", "promise_to_pay", promise.id, summary)
        if status == BROKEN:
            session.add(
                Alert(
                    kind="promise_broken",
                    case_id=promise.case_id,
                    visit_id=promise.visit_id,
                    detail={"promise_id": promise.id, **summary},
                )
            )
        emit(
            session,
            "promise.judged",
            str(promise.case_id),
            {"case_id": promise.case_id, "promise_id": promise.id, **summary},
        )
    session.flush()
    return run


def broken_promises(session: Session, customer_id: str) -> int:
    """How many of the customer's promises were broken (the next-step table stops
    offering a new promise past the configured number)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(PromiseToPay)
            .where(PromiseToPay.customer_id == customer_id, PromiseToPay.status == BROKEN)
        )
        or 0
    )
