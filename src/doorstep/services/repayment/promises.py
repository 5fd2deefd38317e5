"""Promises to pay (承诺还款), judged by the batch from the payments that followed them.

A promise is kept when the customer's payments from the day it was made up to its date
plus the grace days add up to its amount; once that window has passed it is partly kept
(something came) or broken (nothing came). A broken promise raises an alert for the
case's owner; a partly kept or broken one opens a follow-up task (`domain.tasks`), and
the lender hears of every judgement through the outbox.
Judged promises are never judged again, so a rerun changes nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.money import format_yuan
from doorstep.domain.tasks import TaskKind
from doorstep.services.cases import tasks
from doorstep.services.conduct import audit
from doorstep.services.outbox import emit
from doorstep.store.models import Alert, Case, PromiseToPay
from doorstep.store.repositories import promises as repo

OPEN, KEPT, PARTLY_KEPT, BROKEN = "open", "kept", "partly_kept", "broken"
Payments = dict[str, list[tuple[date, int]]]
"""(paid on, amount) of each customer's payments, by customer id."""


@dataclass
class PromiseRun:
    as_of: date
    judged: dict[str, int] = field(default_factory=lambda: {KEPT: 0, PARTLY_KEPT: 0, BROKEN: 0})
    still_open: int = 0


def judge_promises(
    session: Session,
    as_of: date,
    *,
    now: datetime,
    grace_days: int = 3,
    actor: Actor = SYSTEM,
) -> PromiseRun:
    """Judge every open promise on `as_of`; `now` dates the events sent to the lender."""
    run = PromiseRun(as_of)
    promises = repo.promises_in_status(session, OPEN)
    if not promises:
        return run
    earliest = min(p.created_at.date() for p in promises)
    payments: Payments = defaultdict(list)
    for customer_id, paid_on, amount in repo.customer_payments(
        session, {p.customer_id for p in promises}, earliest, as_of
    ):
        payments[customer_id].append((paid_on, amount))
    for promise in promises:
        status = _judge(promise, payments[promise.customer_id], as_of, grace_days)
        if status is None:
            run.still_open += 1
            continue
        run.judged[status] += 1
        _report(session, actor, promise, status, now)
    session.flush()
    return run


def _judge(
    promise: PromiseToPay, payments: list[tuple[date, int]], as_of: date, grace_days: int
) -> str | None:
    """Set the promise's status (and what was paid towards it) once it is decided;
    None while it is still open (its progress so far recorded)."""
    start, deadline = promise.created_at.date(), promise.due_on + timedelta(days=grace_days)
    paid = sum(amount for paid_on, amount in payments if start <= paid_on <= min(deadline, as_of))
    if paid >= promise.amount:
        status = KEPT
    elif as_of > deadline:
        status = PARTLY_KEPT if paid > 0 else BROKEN
    else:
        if promise.paid != paid:
            promise.paid = paid  # progress so far; judged when the window closes
        return None
    promise.status, promise.paid, promise.judged_on = status, paid, as_of
    return status


def _report(
    session: Session, actor: Actor, promise: PromiseToPay, status: str, now: datetime
) -> None:
    """The judgement's audit event, an alert for the owner when broken, and the event
    for the lender."""
    summary = {
        "status": status,
        "amount": format_yuan(promise.amount),
        "paid": format_yuan(promise.paid),
        "due_on": promise.due_on.isoformat(),
    }
    audit.record(session, actor, "promise.judge", "promise_to_pay", promise.id, summary)
    if status in (PARTLY_KEPT, BROKEN):
        case = session.get(Case, promise.case_id)
        if case is not None:
            tasks.open_task(
                session,
                case,
                TaskKind.PROMISE_FOLLOW_UP,
                promise.judged_on or now.date(),
                promise_id=promise.id,
            )
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
        now=now,
    )


def broken_promises(session: Session, customer_id: str) -> int:
    """How many of the customer's promises were broken (the next-step table stops
    offering a new promise past the configured number)."""
    return repo.count_in_status(session, customer_id, BROKEN)
