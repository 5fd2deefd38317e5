"""Queries of promises to pay and the payments that judge them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.store.models import Loan, Payment, PromiseToPay


def promises_in_status(session: Session, status: str) -> list[PromiseToPay]:
    return list(
        session.scalars(
            select(PromiseToPay).where(PromiseToPay.status == status).order_by(PromiseToPay.id)
        )
    )


def customer_payments(
    session: Session, customers: Iterable[str], first: date, last: date
) -> list[tuple[str, date, int]]:
    """(customer id, paid on, amount) of the customers' payments on any of their loans
    from `first` to `last`, both included."""
    rows = session.execute(
        select(Loan.customer_id, Payment.paid_on, Payment.amount)
        .join(Loan, Loan.loan_id == Payment.loan_id)
        .where(
            Loan.customer_id.in_(set(customers)),
            Payment.paid_on >= first,
            Payment.paid_on <= last,
        )
    )
    return [(customer_id, paid_on, amount) for customer_id, paid_on, amount in rows]


def count_in_status(session: Session, customer_id: str, status: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PromiseToPay)
            .where(PromiseToPay.customer_id == customer_id, PromiseToPay.status == status)
        )
        or 0
    )
