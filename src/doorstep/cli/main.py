"""`doorstep` — the operator's command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import format_yuan, parse_yuan
from doorstep.domain.schedule import RepaymentMethod, build_schedule, remaining_balances
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.batch.delinquency import (
    DelinquencySummary,
    delinquency_table,
    run_delinquency,
)
from doorstep.services.ingest import BatchRejected, IngestReport, ingest_files
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction

app = typer.Typer(
    help="Doorstep: home-visit verification of overdue consumer loans.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
batch_app = typer.Typer(help="Batch jobs.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for operators and the lender.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(batch_app, name="batch")
app.add_typer(export_app, name="export")
console = Console()
error_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def settings() -> Settings:
    return Settings()


def ready_engine(config: Settings) -> Engine:
    """The configured database, migrated to the current schema."""
    engine = make_engine(config.resolved_database_url)
    migrate.upgrade(engine)
    return engine


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar fed by the services' (stage, done, total) callbacks."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def fail(message: str) -> typer.Exit:
    error_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text!r}") from None


AsOf = Annotated[str, typer.Option("--as-of", help="as-of date, YYYY-MM-DD")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    config = settings()
    ready_engine(config)
    console.print(
        f"database at head: {make_engine(config.resolved_database_url).url.render_as_string()}"
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


def run_ingest(engine: Engine, config: Settings, paths: list[Path]) -> IngestReport:
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
        )


@app.command()
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


@app.command()
def schedule(
    principal: Annotated[str, typer.Option(help="principal in yuan, e.g. 100000.00")],
    annual_rate: Annotated[str, typer.Option(help="annual rate as a fraction, e.g. 0.12")],
    months: Annotated[int, typer.Option(help="term in months")],
    method: Annotated[
        RepaymentMethod, typer.Option(help="repayment method")
    ] = RepaymentMethod.EQUAL_INSTALLMENT,
    start: Annotated[
        str | None, typer.Option(help="first due date YYYY-MM-DD (default: a month from today)")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table or csv")
    ] = OutputFormat.table,
) -> None:
    """Print a loan's repayment schedule and its totals."""
    from doorstep.domain.calendar import add_months

    try:
        amount = parse_yuan(principal)
        rate = Decimal(annual_rate)
        first = parse_day(start) if start else add_months(datetime.now(settings().zone).date(), 1)
        rows = build_schedule(amount, rate, months, method, first)
    except (DoorstepError, ArithmeticError) as exc:
        raise fail(getattr(exc, "message", str(exc))) from None
    balances = remaining_balances(amount, rows)
    header = ["seq", "due_on", "payment", "principal", "interest", "balance"]
    lines = [
        [
            str(r.seq),
            r.due_on.isoformat(),
            format_yuan(r.amount_due),
            format_yuan(r.principal_due),
            format_yuan(r.interest_due),
            format_yuan(b),
        ]
        for r, b in zip(rows, balances, strict=True)
    ]
    totals = [
        "total",
        "",
        format_yuan(sum(r.amount_due for r in rows)),
        format_yuan(sum(r.principal_due for r in rows)),
        format_yuan(sum(r.interest_due for r in rows)),
        "",
    ]
    if output is OutputFormat.csv:
        typer.echo(",".join(header))
        for line in [*lines, totals]:
            typer.echo(",".join(line))
        return
    table = Table(title=f"{method.value} · {format_yuan(amount)} · {rate} · {months} months")
    for column in header:
        table.add_column(column, justify="right")
    for line in lines:
        table.add_row(*line)
    table.add_section()
    table.add_row(*totals)
    console.print(table)


def print_delinquency(summary: DelinquencySummary, bucket_order: list[str]) -> None:
    table = Table(
        title=f"delinquency on {summary.as_of}: {summary.loans} loans, "
        f"{summary.overdue_loans} overdue"
    )
    table.add_column("bucket")
    table.add_column("loans", justify="right")
    table.add_column("overdue (yuan)", justify="right")
    for bucket in bucket_order:
        entry = summary.by_bucket.get(bucket, {"loans": 0, "overdue": 0})
        table.add_row(bucket, str(entry["loans"]), format_yuan(entry["overdue"]))
    console.print(table)


@batch_app.command("delinquency")
def batch_delinquency(as_of: AsOf) -> None:
    """Compute and store every loan's delinquency snapshot on the as-of date."""
    config = settings()
    run_batch(ready_engine(config), config, parse_day(as_of))


def run_batch(engine: Engine, config: Settings, day: date) -> DelinquencySummary:
    """The delinquency batch with a progress bar, then its summary table."""
    with progress_bar() as progress, transaction(engine) as session:
        summary = run_delinquency(
            session,
            day,
            waterfall=config.waterfall_rule,
            buckets=config.bucket_scheme,
            progress=progress,
        )
    print_delinquency(summary, config.bucket_scheme.names)
    return summary


@export_app.command("delinquency")
def export_delinquency(
    as_of: AsOf,
    output_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """One row per loan: dpd, bucket, overdue amounts (yuan) and outstanding principal."""
    config = settings()
    day = parse_day(as_of)
    engine = ready_engine(config)
    with progress_bar() as progress, transaction(engine) as session:
        frame = delinquency_table(
            session,
            day,
            waterfall=config.waterfall_rule,
            buckets=config.bucket_scheme,
            progress=progress,
        )
    money = ["overdue_principal", "overdue_interest", "overdue_penalty", "outstanding_principal"]
    frame = frame.select("loan_id", "customer_id", "as_of", "dpd", "bucket", *money)
    target = output or config.var_dir / "exports" / f"delinquency-{day}.{output_format.value}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if output_format is FileFormat.parquet:
        frame.write_parquet(target)  # integer fen, exact
    else:
        frame.with_columns(
            pl.col(m).map_elements(format_yuan, return_dtype=pl.Utf8) for m in money
        ).write_csv(target)
    console.print(f"{frame.height} loans written to {target}")


@export_app.command("table")
def export_table(
    name: Annotated[str, typer.Argument(help="loans, payments, cases, visits, verdicts, …")],
    output_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.parquet,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """A whole table for analysts' own tools, without personal data (amounts in fen)."""
    from doorstep.services.lender.exports import export_table as write_table

    config = settings()
    target = output or config.var_dir / "exports" / f"{name}.{output_format.value}"
    try:
        with progress_bar() as progress, transaction(ready_engine(config)) as session:
            rows = write_table(
                session, name, target, file_format=output_format.value, progress=progress
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"{rows} rows of {name} written to {target}")


from doorstep.cli import admin as _admin  # noqa: E402, F401  (registers its commands)
from doorstep.cli import daily as _daily  # noqa: E402, F401  (registers `doorstep batch run`)
from doorstep.cli import demo as _demo  # noqa: E402, F401  (registers `doorstep demo`)
from doorstep.cli import feedback as _feedback  # noqa: E402, F401  (webhooks, export feedback)
from doorstep.cli import offers as _offers  # noqa: E402, F401  (`doorstep offers track`)
from doorstep.cli import plans as _plans  # noqa: E402, F401  (registers `doorstep plan`)
from doorstep.cli import reports as _reports  # noqa: E402, F401  (`doorstep report`)
from doorstep.cli import rules as _rules  # noqa: E402, F401  (`doorstep rules`, `retention`)
from doorstep.cli import score as _score  # noqa: E402, F401  (registers `doorstep score`)
from doorstep.cli import visits as _visits  # noqa: E402, F401  (`doorstep batch alerts`)
from doorstep.cli import worker as _worker  # noqa: E402, F401  (`doorstep worker`)

__all__ = ["app"]
