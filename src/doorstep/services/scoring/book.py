"""The book as frames: what training and scoring read, once per run.

`read_book` reads every loan (in loan order, so training and its fingerprint see the same
rows whatever the chunks); `read_partition_book` reads a partition's customers only.
`BookData.delinquency` replays the delinquency kernel for any day, once per day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import NotEnoughData
from doorstep.scoring import behaviour
from doorstep.services.delinquency import compute_range
from doorstep.store.repositories import book as book_repo
from doorstep.store.repositories import scoring as repo

Kernel = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
"""(loans, installments, payments) as `book.range_frames` gives them."""

_NO_LOANS = {
    "customer_id": pl.Utf8,
    "dpd": pl.Int64,
    "overdue_principal": pl.Int64,
    "overdue_interest": pl.Int64,
    "overdue_fee": pl.Int64,
    "overdue_penalty": pl.Int64,
    "outstanding_principal": pl.Int64,
}


@dataclass
class BookData:
    """The book read once: behaviour frames and the delinquency kernel's inputs."""

    frames: behaviour.BookFrames
    kernel: Kernel
    disbursed: pl.DataFrame  # loan_id, disbursed_on
    _days: dict[date, pl.DataFrame] = field(default_factory=dict)

    def delinquency(self, day: date, waterfall: Waterfall, buckets: BucketScheme) -> pl.DataFrame:
        """Per-customer delinquency on ``day`` (loans disbursed by then), computed once."""
        if day not in self._days:
            loans, installments, payments = self.kernel
            alive = self.disbursed.filter(pl.col("disbursed_on") <= day).select("loan_id")
            current = loans.join(alive, on="loan_id", how="semi", maintain_order="left")
            if current.height == 0:
                snap = pl.DataFrame(schema=_NO_LOANS)
            else:
                snap = compute_range(current, installments, payments, day, waterfall, buckets)
            self._days[day] = behaviour.customer_delinquency(snap)
        return self._days[day]

    def history(
        self, as_of: date, waterfall: Waterfall, buckets: BucketScheme
    ) -> dict[date, pl.DataFrame]:
        return {d: self.delinquency(d, waterfall, buckets) for d in behaviour.history_days(as_of)}


def amounts_due(installments: pl.DataFrame) -> pl.DataFrame:
    """The behaviour frame's installments (loan_id, due_on, amount_due) from the kernel's,
    which hold every installment already: the book's biggest table is read once."""
    return installments.select(
        "loan_id",
        "due_on",
        (pl.col("principal_due") + pl.col("interest_due") + pl.col("fee_due")).alias("amount_due"),
    )


def _slot_parts(connection: Connection, first: int, last: int) -> list[Kernel]:
    """(loans, installments, payments) of the slots first..last, about 100,000 loans at
    a time (each a range of the tables' slot indexes)."""
    return [
        book_repo.range_frames(book_repo.fetch_slots(connection, a, b))
        for a, b, _ in book_repo.slot_chunks(connection, first, last, 100_000)
    ]


def _book_data(connection: Connection, kernel: Kernel, slots: repo.Slots) -> BookData:
    """The behaviour frames beside the kernel's (each read limited to ``slots``)."""
    frames = behaviour.BookFrames(
        loans=repo.read_loans(connection, slots),
        installments=amounts_due(kernel[1]),
        payments=repo.read_payments(connection, slots),
        contacts=repo.read_contact_points(connection, slots),
        attempts=repo.read_attempts(connection, slots),
        promises=repo.read_promises(connection, slots),
    )
    return BookData(frames, kernel, frames.loans.select("loan_id", "disbursed_on"))


def read_book(session: Session) -> BookData:
    connection = session.connection()
    parts = _slot_parts(connection, *book_repo.slot_range(0, 1))  # all slots
    if not parts:
        raise NotEnoughData("the book holds no loans", message_zh="账簿中没有贷款")
    # in loan order whatever the chunks (training and its fingerprint see the same rows)
    loans = pl.concat([p[0] for p in parts]).sort("loan_id")
    installments = pl.concat([p[1] for p in parts]).sort("loan_id", maintain_order=True)
    payments = pl.concat([p[2] for p in parts]).sort("loan_id", maintain_order=True)
    return _book_data(connection, (loans, installments, payments), None)


def read_partition_book(session: Session, first: int, last: int) -> BookData | None:
    """The book of the customers whose loans' slots are in first..last (a partition holds
    whole customers); None when it has no loan."""
    connection = session.connection()
    parts = _slot_parts(connection, first, last)
    if not parts:
        return None
    kernel = (
        pl.concat([p[0] for p in parts]),
        pl.concat([p[1] for p in parts]),
        pl.concat([p[2] for p in parts]),
    )
    # each read limited to the partition's customers in the database
    return _book_data(connection, kernel, (first, last))


def latest_book_day(session: Session) -> date | None:
    """The latest delinquency snapshot date (the default as-of of training and scoring)."""
    return repo.latest_snapshot_day(session.connection())
