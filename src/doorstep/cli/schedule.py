"""`doorstep schedule`: a loan's repayment schedule, computed from its terms (no database).
Not to be confused with `cli.scheduler`, the daily batch's timer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import console, fail, parse_day, settings
from doorstep.domain.calendar import add_months
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import format_yuan, parse_yuan
from doorstep.domain.schedule import (
    Installment,
    RepaymentMethod,
    build_schedule,
    remaining_balances,
)

HEADER = ["seq", "due_on", "payment", "principal", "interest", "balance"]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"


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
    try:
        amount = parse_yuan(principal)
        rate = Decimal(annual_rate)
        first = parse_day(start) if start else add_months(datetime.now(settings().zone).date(), 1)
        rows = build_schedule(amount, rate, months, method, first)
    except (DoorstepError, ArithmeticError) as exc:
        raise fail(getattr(exc, "message", str(exc))) from None
    lines = schedule_lines(amount, rows)
    if output is OutputFormat.csv:
        typer.echo(",".join(HEADER))
        for line in lines:
            typer.echo(",".join(line))
        return
    table = Table(title=f"{method.value} · {format_yuan(amount)} · {rate} · {months} months")
    for column in HEADER:
        table.add_column(column, justify="right")
    for line in lines[:-1]:
        table.add_row(*line)
    table.add_section()
    table.add_row(*lines[-1])
    console.print(table)


def schedule_lines(amount: int, rows: list[Installment]) -> list[list[str]]:
    """One line per installment (yuan), the totals line last."""
    balances = remaining_balances(amount, rows)
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
    return [*lines, totals]
