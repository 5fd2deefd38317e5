"""Reading the loan book in bulk (by loan-id range) and writing delinquency snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl
from sqlalchemy import Connection, delete, func, select

from doorstep.store.models import DelinquencySnapshot, Installment, Loan, Payment
from doorstep.store.repositories.staging import bulk_insert


def _frame(
    connection: Connection, statement: object, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    rows = connection.execute(statement).all()  # type: ignore[call-overload]
    return pl.DataFrame(rows, schema=schema, orient="row")


def loan_id_ranges(connection: Connection, per_range: int) -> Iterator[tuple[str, str, int]]:
    """(first, last, count) loan-id ranges of at most `per_range` loans, in id order."""
    ids = connection.execute(select(Loan.loan_id).order_by(Loan.loan_id)).scalars().all()
    for start in range(0, len(ids), per_range):
        chunk = ids[start : start + per_range]
        yield chunk[0], chunk[-1], len(chunk)


def count_loans(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(Loan)).scalar_one()


def read_range(
    connection: Connection, first: str, last: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(loans, installments, payments) of the loans with first <= loan_id <= last, sorted
    as the delinquency kernel wants them."""
    loans = _frame(
        connection,
        select(Loan.loan_id, Loan.customer_id, Loan.penalty_rate_daily)
        .where(Loan.loan_id.between(first, last))
        .order_by(Loan.loan_id),
        {"loan_id": pl.Utf8, "customer_id": pl.Utf8, "penalty_rate_daily": pl.Object},
    )
    installments = _frame(
        connection,
        select(
            Installment.loan_id,
            Installment.due_on,
            Installment.principal_due,
            Installment.interest_due,
            Installment.fee_due,
        )
        .where(Installment.loan_id.between(first, last))
        .order_by(Installment.loan_id, Installment.seq),
        {
            "loan_id": pl.Utf8,
            "due_on": pl.Date,
            "principal_due": pl.Int64,
            "interest_due": pl.Int64,
            "fee_due": pl.Int64,
        },
    )
    payments = _frame(
        connection,
        select(Payment.loan_id, Payment.paid_on, Payment.amount)
        .where(Payment.loan_id.between(first, last))
        .order_by(Payment.loan_id, Payment.paid_on, Payment.payment_id),
        {"loan_id": pl.Utf8, "paid_on": pl.Date, "amount": pl.Int64},
    )
    return loans, installments, payments


def clear_snapshots(connection: Connection, as_of: date) -> int:
    return connection.execute(
        delete(DelinquencySnapshot).where(DelinquencySnapshot.as_of == as_of)
    ).rowcount


def write_snapshots(connection: Connection, frame: pl.DataFrame) -> None:
    bulk_insert(connection, DelinquencySnapshot.__table__, frame)  # type: ignore[arg-type]


def read_snapshots(connection: Connection, as_of: date) -> pl.DataFrame:
    s = DelinquencySnapshot
    return _frame(
        connection,
        select(
            s.loan_id,
            Loan.customer_id,
            s.as_of,
            s.dpd,
            s.bucket,
            s.overdue_principal,
            s.overdue_interest,
            s.overdue_fee,
            s.overdue_penalty,
            s.outstanding_principal,
        )
        .join(Loan, Loan.loan_id == s.loan_id)
        .where(s.as_of == as_of)
        .order_by(s.loan_id),
        {
            "loan_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "as_of": pl.Date,
            "dpd": pl.Int64,
            "bucket": pl.Utf8,
            "overdue_principal": pl.Int64,
            "overdue_interest": pl.Int64,
            "overdue_fee": pl.Int64,
            "overdue_penalty": pl.Int64,
            "outstanding_principal": pl.Int64,
        },
    )


def read_addresses(connection: Connection) -> pl.DataFrame:
    """Every address contact point with its region and trust, for summaries."""
    from doorstep.store.models import ContactPoint as C

    return _frame(
        connection,
        select(
            C.customer_id, C.kind, C.city, C.district, C.status, C.confidence, C.observed_at
        ).where(C.channel == "address"),
        {
            "customer_id": pl.Utf8,
            "kind": pl.Utf8,
            "city": pl.Utf8,
            "district": pl.Utf8,
            "status": pl.Utf8,
            "confidence": pl.Float64,
            "observed_at": pl.Datetime("us", "UTC"),
        },
    )
