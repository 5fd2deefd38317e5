"""`doorstep demo`: a synthetic lender book through the normal ingest and batch path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.main import (
    app,
    console,
    parse_day,
    print_delinquency,
    print_ingest,
    progress_bar,
    ready_engine,
    run_ingest,
    settings,
)
from doorstep.domain.money import format_yuan
from doorstep.services.delinquency import run_delinquency
from doorstep.services.reports import overdue_by_city
from doorstep.store.db import transaction


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many customers to make")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same book")] = 42,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="book date YYYY-MM-DD (default today)")
    ] = None,
) -> None:
    """Build a synthetic lender book, ingest it, run the delinquency batch, summarise."""
    from doorstep.demo.generate import generate_book  # Faker is slow to import: only here

    config = settings()
    day = parse_day(as_of) if as_of else datetime.now(config.zone).date()
    folder = config.var_dir / "demo" / f"seed{seed}-{customers}-{day}"
    with progress_bar() as progress:
        made = generate_book(folder, customers=customers, seed=seed, as_of=day, progress=progress)
    console.print(
        f"demo book: {made.customers} customers, {made.loans} loans, "
        f"{made.payments} payments in {folder}"
    )
    engine = ready_engine(config)
    print_ingest(run_ingest(engine, config, [folder]))
    with progress_bar() as progress, transaction(engine) as session:
        summary = run_delinquency(
            session,
            day,
            waterfall=config.waterfall_rule,
            buckets=config.bucket_scheme,
            progress=progress,
        )
    print_delinquency(summary, config.bucket_scheme.names)
    with transaction(engine) as session:
        cities = overdue_by_city(session, day)
    table = Table(title=f"overdue loans by city on {day}")
    for column in ("city", "loans", "overdue loans", "overdue (yuan)", "M1", "M2", "M3+"):
        table.add_column(column, justify="left" if column == "city" else "right")
    for row in cities:
        table.add_row(
            row["city"],
            str(row["loans"]),
            str(row["overdue_loans"]),
            format_yuan(row["overdue"]),
            str(row["m1"]),
            str(row["m2"]),
            str(row["m3_plus"]),
        )
    console.print(table)
