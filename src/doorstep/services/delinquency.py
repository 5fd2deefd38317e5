"""The delinquency batch: snapshots of every loan on an as-of date, computed range by range
with the vectorised kernel and written in bulk (replacing that date's earlier snapshots)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from doorstep.compute.delinquency import BookArrays, snapshot_book
from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.money import rate_to_units
from doorstep.store.repositories import book

EPOCH = date(1970, 1, 1)
LOANS_PER_RANGE = 100_000
Progress = Callable[[str, int, int], None]


@dataclass
class DelinquencySummary:
    as_of: date
    loans: int = 0
    overdue_loans: int = 0
    by_bucket: dict[str, dict[str, int]] = field(default_factory=dict)  # loans, overdue fen

    def add(self, frame: pl.DataFrame) -> None:
        self.loans += frame.height
        self.overdue_loans += int((frame["dpd"] > 0).sum())
        grouped = frame.group_by("bucket").agg(
            pl.len().alias("loans"),
            (
                pl.col("overdue_principal")
                + pl.col("overdue_interest")
                + pl.col("overdue_fee")
                + pl.col("overdue_penalty")
            )
            .sum()
            .alias("overdue"),
        )
        for bucket, loans, overdue in grouped.iter_rows():
            entry = self.by_bucket.setdefault(bucket, {"loans": 0, "overdue": 0})
            entry["loans"] += loans
            entry["overdue"] += overdue


def _days(column: pl.Series) -> np.ndarray:
    return (column.cast(pl.Date).cast(pl.Int64)).to_numpy()


def _rate_units(rates: pl.Series) -> np.ndarray:
    """Daily penalty rates (exact text or Decimal) as integers of 1e-8, each distinct
    value converted once."""
    if rates.dtype == pl.Object:
        rates = pl.Series([str(r) for r in rates.to_list()], dtype=pl.Utf8)
    units = {text: rate_to_units(Decimal(text)) for text in rates.unique().to_list()}
    return rates.replace_strict(units, return_dtype=pl.Int64).to_numpy()


def compute_range(
    loans: pl.DataFrame,
    installments: pl.DataFrame,
    payments: pl.DataFrame,
    as_of: date,
    waterfall: Waterfall,
    buckets: BucketScheme,
) -> pl.DataFrame:
    """Snapshots of the given loans (frames as `book.read_range` returns them)."""
    index = (
        loans.select("loan_id")
        .with_row_index("position")
        .with_columns(pl.col("position").cast(pl.Int64))
    )
    inst = installments.join(index, on="loan_id", how="inner", maintain_order="left")
    pays = payments.join(index, on="loan_id", how="inner", maintain_order="left")
    arrays = BookArrays(
        loans=loans.height,
        rate_units=_rate_units(loans["penalty_rate_daily"]),
        inst_loan=inst["position"].to_numpy(),
        inst_due=_days(inst["due_on"]),
        inst_principal=inst["principal_due"].to_numpy(),
        inst_interest=inst["interest_due"].to_numpy(),
        inst_fee=inst["fee_due"].to_numpy(),
        pay_loan=pays["position"].to_numpy(),
        pay_day=_days(pays["paid_on"]),
        pay_amount=pays["amount"].to_numpy(),
    )
    result = snapshot_book(arrays, (as_of - EPOCH).days, waterfall, buckets)
    return pl.DataFrame(
        {
            "loan_id": loans["loan_id"],
            "customer_id": loans["customer_id"],
            "as_of": pl.repeat(as_of, loans.height, dtype=pl.Date, eager=True),
            "dpd": result.dpd,
            "bucket": pl.Series(result.bucket, dtype=pl.Utf8),
            "overdue_principal": result.overdue_principal,
            "overdue_interest": result.overdue_interest,
            "overdue_fee": result.overdue_fee,
            "overdue_penalty": result.overdue_penalty,
            "outstanding_principal": result.outstanding_principal,
            "unapplied": result.unapplied,
        }
    )


def iter_snapshots(
    session: Session,
    as_of: date,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None = None,
    per_range: int = LOANS_PER_RANGE,
) -> Iterator[pl.DataFrame]:
    """Snapshot frames of the whole book, one loan-id range at a time, in id order.

    The connection is used by this thread only: while it fetches the next range (the
    database works with the GIL released) and the caller writes the previous result, one
    worker thread parses and computes the range fetched before, which needs no database.
    """
    connection = session.connection()
    total, done = book.count_loans(connection), 0

    def compute(rows: book.RangeRows) -> pl.DataFrame:
        return compute_range(*book.range_frames(rows), as_of, waterfall, buckets)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="delinquency") as worker:
        pending: deque[tuple[Future[pl.DataFrame], int]] = deque()
        for first, last, count in book.loan_id_ranges(connection, per_range):
            rows = book.fetch_range(connection, first, last)
            pending.append((worker.submit(compute, rows), count))
            # hand over what is computed; at most one range computes while the next is fetched
            while pending and (len(pending) > 1 or pending[0][0].done()):
                future, ready = pending.popleft()
                yield future.result()
                done += ready
                if progress:
                    progress("delinquency", done, total)
        for future, ready in pending:
            yield future.result()
            done += ready
            if progress:
                progress("delinquency", done, total)


def run_delinquency(
    session: Session,
    as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None = None,
    per_range: int = LOANS_PER_RANGE,
) -> DelinquencySummary:
    """Compute and store every loan's snapshot on `as_of`; a rerun replaces the date."""
    connection = session.connection()
    book.clear_snapshots(connection, as_of)
    summary = DelinquencySummary(as_of)
    now = datetime.now(UTC)
    for frame in iter_snapshots(session, as_of, waterfall, buckets, progress, per_range):
        summary.add(frame)
        book.write_snapshots(
            connection,
            frame.drop("customer_id").with_columns(
                pl.lit(now).dt.replace_time_zone("UTC").alias("computed_at")
            ),
        )
    return summary


def delinquency_table(
    session: Session,
    as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """One row per loan on `as_of`: stored snapshots when the batch ran, else computed now."""
    stored = book.read_snapshots(session.connection(), as_of)
    if stored.height:
        return stored
    frames = list(iter_snapshots(session, as_of, waterfall, buckets, progress))
    if not frames:
        return stored
    return pl.concat(frames).drop("unapplied")
