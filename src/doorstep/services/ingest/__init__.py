"""Ingest a lender's files: validate every row, then upsert the batch idempotently.

A batch with any bad row is rejected whole: every problem (file, line, column, value,
reason) is reported and saved as CSV, and nothing is written. A good batch is applied in
one transaction: new rows are inserted, changed rows updated with their before and after
kept in `ingest_changes`, unchanged rows left alone, so the same files twice change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from doorstep.domain.errors import IngestRejected
from doorstep.domain.ports import Cipher, Clock, KeyedHasher, SystemClock
from doorstep.services.ingest.contracts import ORDER, SPECS
from doorstep.services.ingest.files import discover, masked_problem, sha256_of, write_problem_report
from doorstep.services.ingest.identity import (
    IdentityFlag,
    record_links,
    shared_ids,
    write_flag_report,
)
from doorstep.services.ingest.payments import ChangedPaymentDays, future_payment_problems
from doorstep.services.ingest.personal import contact_point_rows, customer_rows
from doorstep.services.ingest.references import cross_file_problems
from doorstep.services.ingest.schedules import generated_schedules, loans_needing_schedules
from doorstep.services.ingest.validate import LINE, Problem, validate_file
from doorstep.services.ingest.write import (
    Inspect,
    in_slot_order,
    with_partition_slots,
    write_table,
)
from doorstep.store.models import ImportBatch
from doorstep.store.models.ingest import IngestChange
from doorstep.store.repositories import restatements, staging

__all__ = ["BatchRejected", "IdentityFlag", "IngestReport", "generated_schedules", "ingest_files"]

Progress = Callable[[str, int, int], None]
STEPS = ("customers", "contact_points", "loans", "installments", "payments")


@dataclass
class IngestReport:
    batch_id: int | None
    files: list[dict[str, Any]]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: list[IdentityFlag] = field(default_factory=list)
    """Rows whose national ID another customer number has (linked, not merged)."""
    flags_path: Path | None = None
    restatements_due: int = 0
    """Loans whose stored snapshots this batch's payments made stale (see `payments`)."""

    @property
    def changed(self) -> bool:
        return any(c["inserted"] or c["updated"] or c["deleted"] for c in self.counts.values())


class BatchRejected(IngestRejected):
    def __init__(self, problems: list[Problem], report_path: Path | None) -> None:
        super().__init__(len(problems), str(report_path) if report_path else None)
        self.problems = problems


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def ingest_files(
    session: Session,
    paths: Sequence[Path],
    *,
    zone: ZoneInfo,
    reports_dir: Path,
    cipher: Cipher,
    hasher: KeyedHasher,
    actor: str = "cli",
    progress: Progress | None = None,
    clock: Clock | None = None,
    payment_future_days: int = 0,
) -> IngestReport:
    """Validate and apply one batch; raises BatchRejected with every problem found.
    Payments may be dated up to `payment_future_days` after today (the clock's business
    date)."""
    clock = clock or SystemClock()
    started = clock.now()
    notify = progress or _no_progress
    connection = session.connection()
    today = started.astimezone(zone).date()
    check = _Checks(zone, reports_dir, started, today, payment_future_days)
    files, frames = _validated(connection, paths, check, notify)
    file_info = [
        {"entity": e, "name": p.name, "sha256": sha256_of(p), "rows": frames[e].height}
        for e, p in files.items()
    ]
    writer = _Writer(
        connection,
        started,
        notify,
        IngestReport(batch_id=None, files=file_info),
        lambda document: cipher.encrypt(json.dumps(document, ensure_ascii=False)),
    )
    customers = frames.get("customers")
    protected = customer_rows(customers, cipher, hasher) if customers is not None else None
    flags = (
        shared_ids(connection, protected, files["customers"].name) if protected is not None else []
    )
    writer.step("customers", protected)
    del protected  # the ciphertexts of every customer: not held while the rest is written
    writer.step("contact_points", contact_point_rows(frames, cipher, hasher))
    payment_days = _write_loans_and_children(writer, frames)
    notify("done", len(STEPS), len(STEPS))
    report = writer.report
    if report.changed:
        batch = ImportBatch(
            started_at=started,
            finished_at=clock.now(),
            files=file_info,
            counts=report.counts,
            actor=actor,
        )
        session.add(batch)
        session.flush()
        staging.record_changes(connection, batch.id, writer.changes)
        report.batch_id = batch.id
    if payment_days is not None:
        report.restatements_due = payment_days.mark(connection, report.batch_id)
    if flags:
        record_links(connection, flags, report.batch_id, started)
        report.flags, report.flags_path = flags, write_flag_report(flags, reports_dir, started)
    return report


@dataclass(frozen=True)
class _Checks:
    """What the checks need besides the files: where reports go and the business date."""

    zone: ZoneInfo
    reports_dir: Path
    now: datetime
    today: date
    payment_future_days: int


def _validated(
    connection: Connection, paths: Sequence[Path], check: _Checks, notify: Progress
) -> tuple[dict[str, Path], dict[str, pl.DataFrame]]:
    """Every file read and checked, alone and against the others and the database; the
    whole batch refused (report written, nothing else) at the first batch with a problem."""
    files, problems = discover(paths)
    frames: dict[str, pl.DataFrame] = {}
    for done, entity in enumerate(e for e in ORDER if e in files):
        notify(f"validate {files[entity].name}", done, len(files))
        frame, found = validate_file(files[entity], SPECS[entity], check.zone)
        problems += found
        if frame is not None:
            frames[entity] = frame
    problems += cross_file_problems(connection, frames, files)
    problems += future_payment_problems(frames, files, check.today, check.payment_future_days)
    if problems:
        problems = [masked_problem(p, files) for p in problems]
        raise BatchRejected(problems, write_problem_report(problems, check.reports_dir, check.now))
    return files, frames


@dataclass
class _Writer:
    """Writes the batch table by table, collecting counts and before/after changes."""

    connection: Connection
    now: datetime
    notify: Progress
    report: IngestReport
    seal: Callable[[dict[str, Any]], str]
    changes: list[IngestChange] = field(default_factory=list)

    def step(self, name: str, frame: pl.DataFrame | None, inspect: Inspect | None = None) -> None:
        self.notify(f"write {name}", STEPS.index(name), len(STEPS))
        if frame is not None and frame.height:
            write_table(
                self.connection,
                name,
                frame,
                self.now,
                self.changes,
                self.report.counts,
                self.seal,
                inspect,
            )


def _write_loans_and_children(
    writer: _Writer, frames: dict[str, pl.DataFrame]
) -> ChangedPaymentDays | None:
    """Loans, their schedules and payments; the payment days that make stored snapshots
    stale (None when no payment came, or no snapshot is stored yet)."""
    schedules = []
    batch_slots = pl.DataFrame(schema={"loan_id": pl.Utf8, "partition_slot": pl.Int16})
    if "loans" in frames:
        loans = _loans_with_schedule_source(writer.connection, frames)
        # in slot order too, like their installments and payments (see `in_slot_order`)
        loans = with_partition_slots(loans).sort(["partition_slot", "loan_id"])
        # a stored loan whose slot changes takes its rows along (ON UPDATE CASCADE)
        writer.step("loans", loans)
        batch_slots = loans.select("loan_id", "partition_slot")
        todo = loans.filter(pl.col("schedule_source") == "generated")
        if todo.height:
            writer.notify("build schedules", 0, todo.height)
            schedules.append(
                generated_schedules(todo).with_columns(pl.lit(None, pl.Int64).alias(LINE))
            )
    if "installments" in frames:
        given = frames["installments"].with_columns(pl.col("fee_due").fill_null(0))
        schedules.append(
            given.select(
                "loan_id", "seq", "due_on", "principal_due", "interest_due", "fee_due", LINE
            )
        )
    if schedules:
        rows = in_slot_order(writer.connection, pl.concat(schedules), batch_slots)
        writer.step("installments", rows)
    if "payments" not in frames:
        return None
    payments = in_slot_order(writer.connection, frames["payments"], batch_slots)
    latest = restatements.latest_snapshot_day(writer.connection)
    days = ChangedPaymentDays(latest, payments) if latest is not None else None
    writer.step("payments", payments, days)
    return days


def _loans_with_schedule_source(
    connection: Connection, frames: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """A loan keeps its stored schedule and source unless one comes with it, or it is new
    or its terms changed (then it is generated); null keeps the stored source."""
    loans = frames["loans"]
    with_schedule = pl.Series(
        frames["installments"]["loan_id"] if "installments" in frames else [], dtype=pl.Utf8
    )
    needing = loans_needing_schedules(
        connection, loans.filter(~pl.col("loan_id").is_in(with_schedule.implode()))
    )
    return loans.with_columns(
        pl.when(pl.col("loan_id").is_in(with_schedule.implode()))
        .then(pl.lit("file"))
        .when(pl.col("loan_id").is_in(pl.Series(needing, dtype=pl.Utf8).implode()))
        .then(pl.lit("generated"))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("schedule_source")
    )
