"""`doorstep report`: the dashboard's figures for a period as CSV, XLSX or a PDF summary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from doorstep.cli.common import console, fail, parse_day, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.store.db import transaction
from doorstep.web.i18n import LANGUAGES, translations


class ReportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    pdf = "pdf"


def report(
    start: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    report_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.xlsx,
    city: Annotated[str | None, typer.Option(help="one city (default: all)")] = None,
    lang: Annotated[str, typer.Option(help="zh_CN or en")] = "zh_CN",
) -> None:
    """The dashboard's figures from --from to --to: one long CSV (chart, title, label,
    series, value), an XLSX workbook (a sheet per chart) or a PDF summary with the charts
    (a whole month is titled as the monthly report)."""
    # heavy and only needed here: openpyxl takes ~0.1 s to import (5% of the CLI's start-up)
    from doorstep.services.reports import files as report_files

    if lang not in LANGUAGES:
        raise typer.BadParameter(f"--lang is one of {', '.join(LANGUAGES)}")
    config = settings()
    first, last = parse_day(start), parse_day(end)
    tr = translations(lang).gettext
    try:
        with transaction(ready_engine(config)) as session:
            board = report_files.report_board(
                session,
                SYSTEM,
                start=first,
                end=last,
                zone=config.zone,
                city=city,
                bucket_order=config.bucket_scheme.names,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    if report_format is ReportFormat.csv:
        output.write_text(report_files.report_csv(board, tr), encoding="utf-8")
    elif report_format is ReportFormat.xlsx:
        output.write_bytes(report_files.report_xlsx(board, tr, start=first, end=last))
    else:
        output.write_bytes(
            report_files.report_pdf(
                board, tr, start=first, end=last, generated_at=datetime.now(config.zone)
            )
        )
    console.print(f"{len(board.charts)} charts from {first} to {last} written to {output}")
