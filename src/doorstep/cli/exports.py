"""`doorstep export`: files for operators and the lender (delinquency, whole tables, and
the lender's feedback file, which `cli.feedback` writes)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from doorstep.cli.common import (
    AsOf,
    console,
    fail,
    parse_day,
    progress_bar,
    ready_engine,
    settings,
)
from doorstep.cli.feedback import export_feedback
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import format_yuan
from doorstep.integrations.spreadsheet import safe_text
from doorstep.services.delinquency import delinquency_table
from doorstep.store.db import transaction

app = typer.Typer(help="Exports for operators and the lender.", no_args_is_help=True)


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command("delinquency")
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
        text = ["loan_id", "customer_id", "bucket"]  # the lender's ids: never a formula
        frame.with_columns(
            *(pl.col(m).map_elements(format_yuan, return_dtype=pl.Utf8) for m in money),
            *(pl.col(t).map_elements(safe_text, return_dtype=pl.Utf8) for t in text),
        ).write_csv(target)
    console.print(f"{frame.height} loans written to {target}")


@app.command("table")
def export_table(
    name: Annotated[str, typer.Argument(help="loans, payments, cases, visits, verdicts, …")],
    output_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.parquet,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """A whole table for analysts' own tools, without personal data (amounts in fen)."""
    # only needed here: it loads pyarrow's parquet and file-system modules (~40 ms)
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


app.command("feedback")(export_feedback)
