"""Reading the loan book in bulk (by runs of partition slots) and writing delinquency
snapshots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    Date,
    Text,
    any_,
    cast,
    delete,
    exists,
    func,
    select,
)

from doorstep.store.models import (
    DelinquencySnapshot,
    Installment,
    Loan,
    Payment,
    ScheduleVersion,
)
from doorstep.store.models.loan import PARTITION_SLOTS, partition_slot
from doorstep.store.repositories.staging import bulk_insert


def _frame(connection: Connection, statement: object, schema: dict[str, Any]) -> pl.DataFrame:
    rows = connection.execute(statement).all()  # type: ignore[call-overload]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _driver_rows(connection: Connection, statement: Any) -> list[tuple[Any, ...]]:
    """Every row of `statement` as the driver's own tuples: for bulk reads of plain text
    and integer columns, where building SQLAlchemy rows would cost more than the query."""
    result = connection.execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


SEP = "\x1f"  # joins a loan's values in one text; no id, date or number contains it
Rows = list[tuple[Any, ...]]

# The columns read per loan, in the order fetched, with their polars types.
INSTALLMENT_COLUMNS: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "due_on": pl.Date(),
    "principal_due": pl.Int64(),
    "interest_due": pl.Int64(),
    "fee_due": pl.Int64(),
}
PAYMENT_COLUMNS: dict[str, pl.DataType] = {
    "paid_on": pl.Date(),
    "payment_id": pl.Utf8(),
    "amount": pl.Int64(),
}
LOAN_SCHEMA = {"loan_id": pl.Utf8, "customer_id": pl.Utf8, "penalty_rate_daily": pl.Utf8}


@dataclass(frozen=True)
class RangeRows:
    """What the database returned for some loans, before it is parsed into frames (which
    needs no connection, so it can run in another thread). Each list is in loan-id order."""

    loans: Rows  # (loan_id, customer_id, penalty rate as text)
    installments: Rows  # (loan_id, then each INSTALLMENT_COLUMNS joined by SEP)
    payments: Rows  # (loan_id, then each PAYMENT_COLUMNS joined by SEP)


def _as_text(column: Any, dialect: str) -> Any:
    """A column as text the same way on every database (dates as YYYY-MM-DD). SQLite
    stores dates as that text already and converts numbers itself when concatenating."""
    if dialect == "sqlite":
        return column
    if isinstance(column.type, Date):
        return func.to_char(column, "YYYY-MM-DD")
    return cast(column, Text)


LoanFilter = Callable[[Any], Any]
"""Which loans to read: a loan-id column -> a WHERE clause on it."""


def _per_loan(
    connection: Connection,
    table: Any,
    loans: LoanFilter,
    columns: list[Any],
    *conditions: Any,
) -> Rows:
    """One row per loan of `table` the filter selects: the loan id, then each column's
    values joined by SEP, so the driver builds a few Python objects per loan instead of
    several per row. The values of a loan are aggregated in one scan, so the columns stay
    aligned; their order inside a loan is not guaranteed (see `_explode`)."""
    dialect = connection.dialect.name
    statement = (
        select(
            table.c.loan_id,
            *(func.aggregate_strings(_as_text(c, dialect), SEP) for c in columns),
        )
        .where(loans(table.c.loan_id), *conditions)
        .group_by(table.c.loan_id)
        .order_by(table.c.loan_id)
    )
    return _driver_rows(connection, statement)


def fetch_loans(connection: Connection, loans: LoanFilter) -> RangeRows:
    """The rows of the loans the filter selects (see `RangeRows`)."""
    rows = _driver_rows(
        connection,
        select(Loan.loan_id, Loan.customer_id, cast(Loan.penalty_rate_daily, Text))
        .where(loans(Loan.loan_id))
        .order_by(Loan.loan_id),
    )
    i, p = Installment.__table__.c, Payment.__table__.c
    installments = _per_loan(
        connection,
        Installment.__table__,
        loans,
        [i.seq, i.due_on, i.principal_due, i.interest_due, func.coalesce(i.fee_due, 0)],
    )
    # Only reads with a restructured loan pay for the filter (one indexed probe otherwise).
    v = ScheduleVersion.__table__.c
    restructured = connection.execute(select(exists().where(loans(v.loan_id)))).scalar()
    payments = _per_loan(
        connection,
        Payment.__table__,
        loans,
        [p.paid_on, p.payment_id, p.amount],
        *([counts_against_current_schedule(p, loans)] if restructured else []),
    )
    return RangeRows(rows, installments, payments)


def fetch_listed(connection: Connection, loan_ids: list[str]) -> RangeRows:
    """The rows of the loans named (a few thousand at a time: one IN list each)."""
    return fetch_loans(connection, lambda loan_id: loan_id.in_(loan_ids))


# -- partitions: contiguous runs of the slots stored with each loan ---------------------


def slot_range(partition: int, partitions: int) -> tuple[int, int]:
    """The slots [first, last] of a partition: slot s is in partition
    s * partitions // PARTITION_SLOTS, so each partition is one run of slots."""
    if not 0 < partitions <= PARTITION_SLOTS:
        raise ValueError(f"partitions must be in 1..{PARTITION_SLOTS}, not {partitions}")
    if not 0 <= partition < partitions:
        raise ValueError(f"partition {partition} is not in 0..{partitions - 1}")
    first = -(-partition * PARTITION_SLOTS // partitions)
    return first, -(-(partition + 1) * PARTITION_SLOTS // partitions) - 1


def partition_of(customer_id: str, partitions: int) -> int:
    """The partition of a customer's loans among `partitions`."""
    return partition_slot(customer_id) * partitions // PARTITION_SLOTS


def slot_chunks(
    connection: Connection, first: int, last: int, per_chunk: int
) -> list[tuple[int, int, int]]:
    """(first slot, last slot, loans) runs of the slots first..last holding about
    `per_chunk` loans each (a slot is never split), from one index-only count."""
    counts = connection.execute(
        select(Loan.partition_slot, func.count())
        .where(Loan.partition_slot.between(first, last))
        .group_by(Loan.partition_slot)
        .order_by(Loan.partition_slot)
    ).all()
    chunks: list[tuple[int, int, int]] = []
    for slot, loans in counts:
        if chunks and chunks[-1][2] + loans <= per_chunk:
            chunks[-1] = (chunks[-1][0], slot, chunks[-1][2] + loans)
        else:
            chunks.append((slot, slot, loans))
    return chunks


def in_slots(connection: Connection, first: int, last: int, of: Any = Loan.loan_id) -> LoanFilter:
    """Rows whose column is the `of` column (loan id, or customer id) of a loan whose slot
    is in first..last. On PostgreSQL those keys (a range of a slot index) become one
    array, computed once (`= ANY(ARRAY(SELECT …))`), which the column's own index walks:
    no join, no sort, no temporary table, and no scan of the whole table, which a planner
    that saw `IN (SELECT …)` would choose (it hashes the keys)."""
    keys = select(of).where(Loan.partition_slot.between(first, last))
    if of is not Loan.loan_id:
        keys = keys.distinct()  # a customer's loans share the slot
    if connection.dialect.name != "postgresql":
        return lambda column: column.in_(keys)
    return lambda column: column == any_(func.array(keys.scalar_subquery()))


def fetch_slots(connection: Connection, first: int, last: int) -> RangeRows:
    """The rows of the loans whose slot is in first..last (see `RangeRows`).
    Loans, installments and payments each carry the slot, so each is read as one range
    of its own slot index; other tables by the partition's loan ids."""
    by_loan_id = in_slots(connection, first, last)

    def loans(loan_id: Any) -> Any:
        slot = loan_id.table.c.get("partition_slot")
        return by_loan_id(loan_id) if slot is None else slot.between(first, last)

    return fetch_loans(connection, loans)


def clear_snapshots_in_slots(connection: Connection, as_of: date, first: int, last: int) -> int:
    """Delete the snapshots on `as_of` of the loans whose slot is in first..last.

    A plain semi-join, not the array of `in_slots`: this table is rewritten every day,
    so its statistics are often stale, and a planner that believes it small scans it
    testing each row against the whole array (rows × ids); a semi-join hashes the ids."""
    s = DelinquencySnapshot
    in_slots = select(Loan.loan_id).where(Loan.partition_slot.between(first, last))
    return connection.execute(delete(s).where(s.as_of == as_of, s.loan_id.in_(in_slots))).rowcount


def stored_slots(connection: Connection, loan_ids: list[str]) -> pl.DataFrame:
    """(loan_id, partition_slot) of the stored loans among `loan_ids`."""
    rows: Rows = []
    for start in range(0, len(loan_ids), 10_000):
        chunk = loan_ids[start : start + 10_000]
        rows += _driver_rows(
            connection,
            select(Loan.loan_id, Loan.partition_slot).where(Loan.loan_id.in_(chunk)),
        )
    return pl.DataFrame(rows, schema={"loan_id": pl.Utf8, "partition_slot": pl.Int16}, orient="row")


def counts_against_current_schedule(payments: Any, loans: LoanFilter | None = None) -> Any:
    """Payments the current schedule is measured with: all of them on a loan's original
    schedule; on a restructured loan only those made on or after the day the current
    version took effect (the earlier ones were settled under the schedule it replaced,
    and the plan started from what they left owing)."""
    v = ScheduleVersion.__table__.c
    # the read's own loan filter too, so the versions are read by it, not all of them
    among = [loans(v.loan_id)] if loans is not None else []
    return ~exists().where(v.loan_id == payments.loan_id, v.effective_on > payments.paid_on, *among)


def _explode(rows: Rows, columns: dict[str, pl.DataType], order: list[str]) -> pl.DataFrame:
    """One row per value again, typed, sorted by loan (as fetched) then `order`."""
    names = list(columns)
    if not rows:
        return pl.DataFrame(schema={"loan_id": pl.Utf8, **columns})
    frame = (
        pl.DataFrame(rows, schema=dict.fromkeys(["loan_id", *names], pl.Utf8), orient="row")
        .with_row_index("_loan")
        .with_columns(pl.col(names).str.split(SEP))
        .explode(names)
    )
    typed = [
        pl.col(n).str.to_date("%Y-%m-%d") if t == pl.Date else pl.col(n).cast(t)
        for n, t in columns.items()
    ]
    return frame.with_columns(typed).sort(["_loan", *order]).drop("_loan")


def range_frames(rows: RangeRows) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(loans, installments, payments) frames of fetched rows, sorted as the delinquency
    kernel wants them: loans by loan_id, installments by (loan_id, seq), payments by
    (loan_id, paid_on, payment_id). The penalty rate is exact text."""
    loans = pl.DataFrame(rows.loans, schema=LOAN_SCHEMA, orient="row")
    installments = _explode(rows.installments, INSTALLMENT_COLUMNS, ["seq"]).drop("seq")
    payments = _explode(rows.payments, PAYMENT_COLUMNS, ["paid_on", "payment_id"])
    return loans, installments, payments.drop("payment_id")


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
