"""Repayment for tests: promises to pay with the payments that keep or break them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from doorstep.store.db import transaction
from doorstep.store.models import Case, Loan, Payment, PromiseToPay
from tests.factories.world import World

MADE = datetime(2024, 6, 2, 3, 0, tzinfo=UTC)
DUE = date(2024, 6, 10)


def four_promises(world: World) -> None:
    """Four promises of 1000.00 yuan due 2024-06-10, on the world's first four cases: paid
    in full on the 12th (inside the grace), half paid, nothing paid, and one still inside
    its window."""
    plan = [
        ("kept", [(date(2024, 6, 12), 100000)]),
        ("partly", [(date(2024, 6, 5), 50000), (date(2024, 6, 20), 50000)]),  # 2nd too late
        ("broken", [(date(2024, 5, 30), 100000)]),  # before the promise: does not count
        ("open", []),
    ]
    with transaction(world.engine) as session:
        for n, (label, payments) in enumerate(plan):
            case = session.get(Case, world.case_ids[n])
            assert case is not None
            loan = session.scalars(select(Loan).where(Loan.customer_id == case.customer_id)).first()
            assert loan is not None
            for k, (paid_on, amount) in enumerate(payments):
                session.add(
                    Payment(
                        payment_id=f"ptp-{n}-{k}",
                        loan_id=loan.loan_id,
                        paid_on=paid_on,
                        amount=amount,
                        channel="bank",
                    )
                )
            session.add(
                PromiseToPay(
                    case_id=case.id,
                    customer_id=case.customer_id,
                    amount=100000,
                    due_on=date(2024, 6, 30) if label == "open" else DUE,
                    status="open",
                    paid=0,
                    created_at=MADE,
                    updated_at=MADE,
                )
            )
