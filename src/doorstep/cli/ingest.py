"""`doorstep ingest`: a lender's files, validated and loaded as one batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.common import console, error_console, progress_bar, ready_engine, settings
from doorstep.config import Settings
from doorstep.domain.ports import Clock
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.ingest import BatchRejected, IngestReport, ingest_files
from doorstep.store.db import transaction


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="folders or files (customers.csv, loans.parquet, ...)")
    ],
) -> None:
    """Validate and load a lender's files; a batch with any bad row is rejected whole."""
    config = settings()
    try:
        print_ingest(run_ingest(ready_engine(config), config, paths))
    except BatchRejected as exc:
        print_problems(exc)
        raise typer.Exit(code=2) from None


def run_ingest(
    engine: Engine, config: Settings, paths: list[Path], clock: Clock | None = None
) -> IngestReport:
    """`clock` says what today is (None: the system's): payments may not be dated later."""
    with progress_bar() as progress, transaction(engine) as session:
        cipher, hasher = personal_data_keys(config)
        return ingest_files(
            session,
            paths,
            zone=config.zone,
            reports_dir=config.reports_dir,
            cipher=cipher,
            hasher=hasher,
            progress=progress,
            clock=clock,
            payment_future_days=config.payment_future_days,
        )


def print_ingest(report: IngestReport) -> None:
    table = Table(
        title="ingested" if report.changed else "no changes: the batch matches what is stored"
    )
    for column in ("entity", "inserted", "updated", "unchanged", "deleted"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, counts in report.counts.items():
        table.add_row(
            entity, *(str(counts[k]) for k in ("inserted", "updated", "unchanged", "deleted"))
        )
    console.print(table)
    if report.batch_id is not None:
        console.print(f"import batch #{report.batch_id}")
    if report.restatements_due:
        console.print(
            f"{report.restatements_due} loan(s) paid on days already computed: "
            "the next delinquency step restates their snapshots"
        )
    if report.flags:
        print_flags(report)


def print_flags(report: IngestReport, limit: int = 50) -> None:
    """Rows flagged, not refused: a national ID another customer number has."""
    table = Table(title=f"{len(report.flags)} row(s) flagged: same national ID, not merged")
    for column in ("file", "line", "customer", "other customer", "reason"):
        table.add_column(column)
    for f in report.flags[:limit]:
        line = "" if f.line is None else str(f.line)
        table.add_row(f.file, line, f.customer_id, f.other_customer_id, f.reason)
    console.print(table)
    console.print(f"flag report: {report.flags_path}")


def print_problems(exc: BatchRejected, limit: int = 50) -> None:
    table = Table(title=f"batch rejected: {len(exc.problems)} problem(s), nothing was written")
    for column in ("file", "line", "column", "value", "reason"):
        table.add_column(column)
    for p in exc.problems[:limit]:
        table.add_row(
            p.file, "" if p.line is None else str(p.line), p.column, p.value[:40], p.reason
        )
    error_console.print(table)
    if len(exc.problems) > limit:
        error_console.print(f"... and {len(exc.problems) - limit} more")
    error_console.print(f"full report: {exc.report_path}")
