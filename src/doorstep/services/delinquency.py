"""The delinquency batch: snapshots of every loan on an as-of date, computed range by range
with the vectorised kernel and written in bulk (replacing that date's earlier snapshots).

At scale the book is split into partitions by the slot stored with each loan (a stable
hash of its customer's id), each a contiguous run of slots computed on its own (a task
on a worker, or in-process) and written in its own transaction; a coordinator merges the
partitions' summaries and fails loudly, naming the partitions, when any did not report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.compute.delinquency import BookArrays, snapshot_book
from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import PartitionFailed
from doorstep.domain.money import rate_to_units
from doorstep.domain.ports import Clock, SystemClock
from doorstep.integrations.broker import Broker
from doorstep.store.db import transaction
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

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able figures (what a partition task returns)."""
        return {
            "as_of": self.as_of.isoformat(),
            "loans": self.loans,
            "overdue_loans": self.overdue_loans,
            "by_bucket": {k: dict(v) for k, v in self.by_bucket.items()},
        }

    def merge(self, figures: Mapping[str, Any]) -> None:
        """Add a partition's figures (as `as_dict` gives them)."""
        self.loans += int(figures["loans"])
        self.overdue_loans += int(figures["overdue_loans"])
        for bucket, entry in figures["by_bucket"].items():
            mine = self.by_bucket.setdefault(bucket, {"loans": 0, "overdue": 0})
            mine["loans"] += int(entry["loans"])
            mine["overdue"] += int(entry["overdue"])


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
    """Snapshots of the given loans (frames as `book.range_frames` gives them)."""
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
    """Snapshot frames of the whole book, a run of slots at a time: each table's rows of
    a run of slots are one range of its slot index, and contiguous in the table as the
    ingest loads them, where a loan-id range's are scattered all over it."""
    connection = session.connection()
    chunks = book.slot_chunks(connection, *book.slot_range(0, 1), per_range)  # all slots
    fetches = (
        (lambda first=first, last=last: book.fetch_slots(connection, first, last), count)
        for first, last, count in chunks
    )
    total = sum(count for _, _, count in chunks)
    yield from _pipeline(fetches, total, as_of, waterfall, buckets, progress)


def _pipeline(
    fetches: Iterable[tuple[Callable[[], book.RangeRows], int]],
    total: int,
    as_of: date,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None,
) -> Iterator[pl.DataFrame]:
    """Snapshot frames of each fetched piece of the book, in order.

    The connection is used by this thread only: while it fetches the next piece (the
    database works with the GIL released) and the caller writes the previous result, one
    worker thread parses and computes the piece fetched before, which needs no database.
    """
    done = 0

    def compute(rows: book.RangeRows) -> pl.DataFrame:
        return compute_range(*book.range_frames(rows), as_of, waterfall, buckets)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="delinquency") as worker:
        pending: deque[tuple[Future[pl.DataFrame], int]] = deque()
        for fetch, count in fetches:
            rows = fetch()
            pending.append((worker.submit(compute, rows), count))
            # hand over what is computed; at most one piece computes while the next is fetched
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


def _stored(frame: pl.DataFrame, now: datetime) -> pl.DataFrame:
    return frame.drop("customer_id").with_columns(
        pl.lit(now).dt.replace_time_zone("UTC").alias("computed_at")
    )


def run_delinquency(
    session: Session,
    as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None = None,
    per_range: int = LOANS_PER_RANGE,
    now: datetime | None = None,
) -> DelinquencySummary:
    """Compute and store every loan's snapshot on `as_of`; a rerun replaces the date.
    `now` stamps the snapshots (None: the system clock's)."""
    connection = session.connection()
    book.clear_snapshots(connection, as_of)
    summary = DelinquencySummary(as_of)
    now = now or SystemClock().now()
    for frame in iter_snapshots(session, as_of, waterfall, buckets, progress, per_range):
        summary.add(frame)
        book.write_snapshots(connection, _stored(frame, now))
    return summary


# -- partitions ---------------------------------------------------------------------------

PARTITION_TASK = "doorstep.delinquency_partition"
"""The partition task's name, shared by the workers and whoever enqueues it."""
PARTITION_CHUNK = 20_000
"""A partition is read in pieces of about this many loans (whole slots), each one range
of the tables' slot indexes. Smaller than the in-process pass's: a partition has fewer
loans, and more pieces overlap reading with computing better (5,000,000 loans, 8
partitions: 2 workers took 169 s with pieces of 20,000, 192-197 s with 100,000)."""


def run_partition(
    session: Session,
    as_of: date,
    partition: int,
    partitions: int,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    per_range: int = PARTITION_CHUNK,
    now: datetime | None = None,
) -> DelinquencySummary:
    """Compute and store the snapshots of one partition's loans on `as_of` (those whose
    stored slot falls in the partition's run of slots, see `book.slot_range`), reading
    only that partition's loans, installments and payments. Its rows for the date are
    replaced: a rerun, or a task delivered twice, leaves the same rows. `now` stamps the
    snapshots (None: the system clock's)."""
    first, last = book.slot_range(partition, partitions)
    connection = session.connection()
    book.clear_snapshots_in_slots(connection, as_of, first, last)
    chunks = book.slot_chunks(connection, first, last, per_range)
    summary = DelinquencySummary(as_of)
    now = now or SystemClock().now()
    fetches = (
        (lambda a=a, b=b: book.fetch_slots(connection, a, b), count) for a, b, count in chunks
    )
    total = sum(count for _, _, count in chunks)
    for frame in _pipeline(fetches, total, as_of, waterfall, buckets, None):
        summary.add(frame)
        book.write_snapshots(connection, _stored(frame, now))
    return summary


PartitionOutcome = Mapping[str, Any] | BaseException
Dispatch = Callable[[date, int], Sequence[PartitionOutcome]]
"""Runs every partition of a date (on workers or in-process); returns, per partition in
order, its figures (`DelinquencySummary.as_dict`) or the exception that failed it."""


def collect(
    as_of: date, partitions: int, dispatch: Dispatch, *, step: str = "delinquency"
) -> list[Mapping[str, Any]]:
    """Run all partitions and return their figures, in partition order; raise
    `PartitionFailed`, naming each partition that failed or did not report, unless every
    one reported for `as_of`."""
    outcomes = list(dispatch(as_of, partitions))
    failed = {
        n: outcome
        for n, outcome in enumerate(outcomes)
        if isinstance(outcome, BaseException) or outcome.get("as_of") != as_of.isoformat()
    }
    failed.update({n: TimeoutError("no report") for n in range(len(outcomes), partitions)})
    if failed:
        first = next(iter(failed.values()))
        detail = (
            f"{type(first).__name__}: {first}"
            if isinstance(first, BaseException)
            else (f"reported another date: {first.get('as_of')}")
        )
        names = ", ".join(str(n) for n in sorted(failed))
        raise PartitionFailed(
            f"{step} on {as_of}: partition(s) {names} of {partitions} failed (first: {detail})",
            message_zh=f"{as_of} {step}：分区 {names}（共 {partitions}）失败",
        )
    return [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]


def run_partitioned(as_of: date, partitions: int, dispatch: Dispatch) -> DelinquencySummary:
    """Run all delinquency partitions and merge their figures (see `collect`)."""
    summary = DelinquencySummary(as_of)
    for outcome in collect(as_of, partitions, dispatch):
        summary.merge(outcome)
    return summary


def in_process(
    engine: Engine,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    per_range: int = PARTITION_CHUNK,
    clock: Clock | None = None,
) -> Dispatch:
    """Run the partitions one after the other here, each in its own transaction (no
    broker: the embedded default); `clock` stamps the snapshots (None: the system's)."""
    stamp = clock or SystemClock()

    def dispatch(as_of: date, partitions: int) -> list[PartitionOutcome]:
        outcomes: list[PartitionOutcome] = []
        for partition in range(partitions):
            try:
                with transaction(engine) as session:
                    summary = run_partition(
                        session,
                        as_of,
                        partition,
                        partitions,
                        waterfall=waterfall,
                        buckets=buckets,
                        per_range=per_range,
                        now=stamp.now(),
                    )
                outcomes.append(summary.as_dict())
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    return dispatch


def via_broker(broker: Broker, *, task: str = PARTITION_TASK, args: Sequence[Any] = ()) -> Dispatch:
    """Enqueue every partition as a `task(as_of, partition, partitions, *args)` for the
    workers and wait for all of them (a group joined here: the daily step is marked done
    only when every partition reported)."""

    def dispatch(as_of: date, partitions: int) -> list[PartitionOutcome]:
        calls = [(as_of.isoformat(), n, partitions, *args) for n in range(partitions)]
        return broker.run_group(task, calls)

    return dispatch


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
    return pl.concat(frames).drop("unapplied").sort("loan_id")  # one loan order, any chunks
