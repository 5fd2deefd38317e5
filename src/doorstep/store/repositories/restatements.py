"""Restating stored delinquency snapshots after a backdated payment: the loans an ingest
marked, their stored snapshots from a day on, rewriting the changed ones, and the record
of each restatement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from doorstep.store.models import (
    DelinquencySnapshot,
    Payment,
    RestatementDue,
    ScheduleVersion,
    SnapshotRestatement,
)
from doorstep.store.repositories.staging import bulk_insert

CHUNK = 500  # keys per IN list: every driver takes it
SNAPSHOT_VALUES: dict[str, pl.DataType] = {
    "dpd": pl.Int64(),
    "bucket": pl.Utf8(),
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "overdue_fee": pl.Int64(),
    "overdue_penalty": pl.Int64(),
    "outstanding_principal": pl.Int64(),
    "unapplied": pl.Int64(),
}
"""What a snapshot says about its loan on its day: the fields a restatement compares."""


def latest_snapshot_day(connection: Connection) -> date | None:
    """The last day with stored snapshots (from the as-of index)."""
    return connection.scalar(select(func.max(DelinquencySnapshot.as_of)))


def payment_days_changed(
    connection: Connection, stage: Table, up_to: date
) -> list[tuple[str, date]]:
    """(loan_id, day) of each staged payment that is new or changes its loan, day or
    amount, and of the stored payment it replaces: those on or before `up_to` only."""
    p = Payment.__table__.c
    s = stage.c
    differs = or_(
        p.payment_id.is_(None),
        s.loan_id.is_distinct_from(p.loan_id),
        s.paid_on.is_distinct_from(p.paid_on),
        s.amount.is_distinct_from(p.amount),
    )
    rows = connection.execute(
        select(s.loan_id, s.paid_on, p.loan_id, p.paid_on)
        .select_from(stage.outerjoin(Payment.__table__, p.payment_id == s.payment_id))
        .where(differs, or_(s.paid_on <= up_to, p.paid_on <= up_to))
    ).all()
    days: list[tuple[str, date]] = []
    for loan, day, old_loan, old_day in rows:
        days += [(loan, day)] if day <= up_to else []
        days += [(old_loan, old_day)] if old_day is not None and old_day <= up_to else []
    return days


def add_due(connection: Connection, rows: pl.DataFrame) -> None:
    """Mark loans for restatement from a day (loan_id, from_day, import_batch_id)."""
    bulk_insert(connection, RestatementDue.__table__, rows)  # type: ignore[arg-type]


def due(connection: Connection) -> pl.DataFrame:
    """Every marked loan once: the earliest day marked, the import batches that marked it,
    and the highest mark id read (marks added later are left for the next run)."""
    r = RestatementDue
    rows = connection.execute(select(r.id, r.loan_id, r.from_day, r.import_batch_id)).all()
    frame = pl.DataFrame(
        list(rows),
        schema={"id": pl.Int64, "loan_id": pl.Utf8, "from_day": pl.Date, "batch": pl.Int64},
        orient="row",
    )
    return frame.group_by("loan_id").agg(
        pl.col("from_day").min(),
        pl.col("batch").drop_nulls().unique().sort().alias("batches"),
        pl.col("id").max().alias("last_mark"),
    )


def clear_due(connection: Connection, up_to_id: int) -> None:
    """Drop the marks read (ids up to `up_to_id`)."""
    connection.execute(delete(RestatementDue).where(RestatementDue.id <= up_to_id))


def schedule_starts(connection: Connection, loan_ids: Sequence[str]) -> dict[str, date]:
    """The day each restructured loan's current schedule took effect."""
    v = ScheduleVersion
    starts: dict[str, date] = {}
    for start in range(0, len(loan_ids), CHUNK):
        starts |= dict(
            connection.execute(
                select(v.loan_id, func.max(v.effective_on))
                .where(v.loan_id.in_(loan_ids[start : start + CHUNK]))
                .group_by(v.loan_id)
            ).all()
        )
    return starts


def stored_snapshots(connection: Connection, loan_ids: Sequence[str], since: date) -> pl.DataFrame:
    """The stored snapshots of `loan_ids` on `since` or later (loan_id, as_of, values)."""
    s = DelinquencySnapshot.__table__.c
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(loan_ids), CHUNK):
        rows += connection.execute(
            select(s.loan_id, s.as_of, *(s[name] for name in SNAPSHOT_VALUES)).where(
                s.loan_id.in_(loan_ids[start : start + CHUNK]), s.as_of >= since
            )
        ).all()
    schema = {"loan_id": pl.Utf8(), "as_of": pl.Date(), **SNAPSHOT_VALUES}
    return pl.DataFrame(rows, schema=schema, orient="row")


def replace_snapshots(connection: Connection, frame: pl.DataFrame) -> None:
    """Rewrite the stored snapshots of the (loan_id, as_of) rows of `frame` with its values."""
    s = DelinquencySnapshot
    for (day,), rows in frame.partition_by("as_of", as_dict=True).items():
        loans = rows["loan_id"].to_list()
        for start in range(0, len(loans), CHUNK):
            connection.execute(
                delete(s).where(and_(s.as_of == day, s.loan_id.in_(loans[start : start + CHUNK])))
            )
    bulk_insert(connection, s.__table__, frame)  # type: ignore[arg-type]


def record(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(SnapshotRestatement), list(rows))


def of_runs(
    session: Session, days: Sequence[date], limit: int
) -> dict[date, tuple[int, list[SnapshotRestatement]]]:
    """Per batch day: how many snapshots its run restated, and the first `limit`."""
    r = SnapshotRestatement
    counts = dict(
        session.execute(
            select(r.run_as_of, func.count()).where(r.run_as_of.in_(days)).group_by(r.run_as_of)
        ).all()
    )
    shown: dict[date, tuple[int, list[SnapshotRestatement]]] = {}
    for day, total in counts.items():
        first = session.scalars(
            select(r).where(r.run_as_of == day).order_by(r.as_of, r.loan_id).limit(limit)
        ).all()
        shown[day] = (total, list(first))
    return shown


def restated_days(connection: Connection, run_as_of: date) -> list[date]:
    """The snapshot days the run of `run_as_of` restated."""
    r = SnapshotRestatement
    return list(
        connection.scalars(
            select(r.as_of).where(r.run_as_of == run_as_of).distinct().order_by(r.as_of)
        )
    )
