"""Payment checks that need a date from outside the file: none dated in the future, and
which loans' stored snapshots a backdated payment makes stale.

"Today" is the business-local date of the ingest's clock: the lender dates payments in
the business zone too, so a payment dated later has not happened yet (counting it would
cure a loan, and cancel its visit, before the money came). `tolerance_days` lets a lender
whose core system value-dates evening transfers to the next day send them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Table

from doorstep.services.ingest.validate import LINE, Problem
from doorstep.store.repositories import restatements

DAYS = {"loan_id": pl.Utf8, "from_day": pl.Date}


def future_payment_problems(
    frames: dict[str, pl.DataFrame], files: dict[str, Path], today: date, tolerance_days: int
) -> list[Problem]:
    """A problem on each payment dated after `today` plus the tolerance."""
    if "payments" not in frames:
        return []
    latest = today + timedelta(days=tolerance_days)
    late = frames["payments"].filter(pl.col("paid_on") > latest)
    allowed = f"{today}" if not tolerance_days else f"{today} + {tolerance_days} day(s)"
    return [
        Problem(
            files["payments"].name,
            line,
            "paid_on",
            str(day),
            f"in the future: after {latest} (today in the business time zone is {allowed})",
        )
        for line, day in late.select(LINE, "paid_on").iter_rows()
    ]


@dataclass
class ChangedPaymentDays:
    """The payments table's inspection (see `write.Inspect`): for each loan whose payments
    this batch adds, moves or changes on or before `up_to` (the last day with stored
    snapshots), the earliest such day; its snapshots from that day on are stale."""

    up_to: date
    frame: pl.DataFrame
    days: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DAYS))

    def __call__(self, connection: Connection, stage: Table | None) -> None:
        if stage is None:  # copied into an empty table: every payment is new
            rows = self.frame.select("loan_id", pl.col("paid_on").alias("from_day"))
            rows = rows.filter(pl.col("from_day") <= self.up_to)
        else:
            changed = restatements.payment_days_changed(connection, stage, self.up_to)
            rows = pl.DataFrame(changed, schema=DAYS, orient="row")
        self.days = rows.group_by("loan_id").agg(pl.col("from_day").min()).sort("loan_id")

    def mark(self, connection: Connection, batch_id: int | None) -> int:
        """Mark the loans for the next delinquency step; how many."""
        rows = self.days.with_columns(pl.lit(batch_id, pl.Int64).alias("import_batch_id"))
        restatements.add_due(connection, rows)
        return rows.height
