"""Restating stored snapshots after backdated payments.

An ingest that adds, moves or changes a payment on or before a day that already has
snapshots marks the loan from that day (`restatements_due`). The delinquency step then
recomputes only those loans' stored snapshots from their earliest changed day (the day it
computes itself excepted), rewrites those that differ and records each one: which loan
and day, the fields before and after, and why (the payments changed from that day, by
those import batches). A restructured loan is restated from its current schedule's start
only: earlier snapshots were measured against the schedule it replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.services.delinquency import compute_range
from doorstep.store.models import SnapshotRestatement
from doorstep.store.repositories import book, restatements
from doorstep.store.repositories.restatements import SNAPSHOT_VALUES

LOANS_PER_CHUNK = 5_000
VALUES = list(SNAPSHOT_VALUES)


@dataclass
class RestatementSummary:
    loans: int = 0  # loans marked
    recomputed: int = 0  # stored snapshots recomputed
    restated: int = 0  # of those, the ones that changed
    days: set[date] = field(default_factory=set)  # the days restated

    def counts(self) -> dict[str, int]:
        if not self.loans:
            return {}
        return {
            "restated_loans": self.loans,
            "recomputed": self.recomputed,
            "restated": self.restated,
        }


@dataclass(frozen=True)
class _Run:
    run_as_of: date
    waterfall: Waterfall
    buckets: BucketScheme
    now: datetime


def restate_marked(
    session: Session,
    run_as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    now: datetime,
    per_chunk: int = LOANS_PER_CHUNK,
) -> RestatementSummary:
    """Restate the marked loans' stored snapshots (see the module) and clear the marks."""
    connection = session.connection()
    marked = restatements.due(connection)
    summary = RestatementSummary(loans=marked.height)
    if not marked.height:
        return summary
    starts = restatements.schedule_starts(connection, marked["loan_id"].to_list())
    if starts:  # a restructured loan: from its current schedule's start
        start = pl.col("loan_id").replace_strict(starts, default=None, return_dtype=pl.Date)
        marked = marked.with_columns(pl.max_horizontal("from_day", start).alias("from_day"))
    run = _Run(run_as_of, waterfall, buckets, now)
    marked = marked.sort("loan_id")
    for offset in range(0, marked.height, per_chunk):
        _restate(connection, marked.slice(offset, per_chunk), run, summary)
    restatements.clear_due(connection, int(marked["last_mark"].max()))  # type: ignore[arg-type]
    return summary


def _restate(
    connection: Connection, marked: pl.DataFrame, run: _Run, summary: RestatementSummary
) -> None:
    """Recompute the stored snapshots of some marked loans; rewrite and record the changed."""
    ids = marked["loan_id"].to_list()
    stored = (
        restatements.stored_snapshots(connection, ids, marked["from_day"].min())  # type: ignore[arg-type]
        .join(marked.select("loan_id", "from_day", "batches"), on="loan_id")
        .filter(pl.col("as_of") >= pl.col("from_day"), pl.col("as_of") != run.run_as_of)
    )
    if not stored.height:
        return
    loans, installments, payments = book.range_frames(book.fetch_listed(connection, ids))
    computed = pl.concat(
        compute_range(
            loans.filter(pl.col("loan_id").is_in(rows["loan_id"].implode())),
            installments,
            payments,
            day,
            run.waterfall,
            run.buckets,
        ).select("loan_id", "as_of", *VALUES)
        for (day,), rows in stored.partition_by("as_of", as_dict=True).items()
    )
    summary.recomputed += stored.height
    joined = stored.join(computed, on=["loan_id", "as_of"], suffix="_now")
    changed = joined.filter(
        pl.any_horizontal(pl.col(v).ne_missing(pl.col(f"{v}_now")) for v in VALUES)
    )
    if not changed.height:
        return
    restatements.replace_snapshots(
        connection,
        changed.select(
            "loan_id",
            "as_of",
            *(pl.col(f"{v}_now").alias(v) for v in VALUES),
            pl.lit(run.now).dt.replace_time_zone("UTC").alias("computed_at"),
        ),
    )
    restatements.record(connection, [_record(row, run) for row in changed.iter_rows(named=True)])
    summary.restated += changed.height
    summary.days |= set(changed["as_of"].unique().to_list())


def _record(row: dict[str, object], run: _Run) -> dict[str, object]:
    """One restatement: the fields that changed, before and after, and why."""
    moved = [v for v in VALUES if row[v] != row[f"{v}_now"]]
    return {
        "run_as_of": run.run_as_of,
        "loan_id": row["loan_id"],
        "as_of": row["as_of"],
        "before": {v: row[v] for v in moved},
        "after": {v: row[f"{v}_now"] for v in moved},
        "changed_from": row["from_day"],
        "import_batches": list(row["batches"] or []),  # type: ignore[call-overload]
        "restated_at": run.now,
    }


def of_runs(
    session: Session, days: Sequence[date], shown: int = 50
) -> dict[date, tuple[int, list[SnapshotRestatement]]]:
    """Per batch day: how many earlier snapshots its run restated, and the first `shown`
    (the batch page)."""
    return restatements.of_runs(session, days, shown)
