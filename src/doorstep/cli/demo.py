"""`doorstep demo`: a synthetic lender book through the normal ingest and batch path, then
a model, case selection, people, optionally simulated days, and the web app."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.batch import print_selection, run_batch
from doorstep.cli.common import (
    console,
    fail,
    parse_day,
    progress_bar,
    ready_engine,
    settings,
    working,
)
from doorstep.cli.ingest import print_ingest, run_ingest
from doorstep.cli.score import print_version
from doorstep.cli.serve import serve as run_server
from doorstep.config import Settings
from doorstep.demo.setup import DemoLogin, create_people
from doorstep.demo.simulate import day_clock, simulate
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import format_yuan
from doorstep.domain.ports import SystemClock
from doorstep.scoring.pipeline import TrainingConfig
from doorstep.services import scoring
from doorstep.services.batch.daily import selection_policy
from doorstep.services.cases import select_cases
from doorstep.services.people import users
from doorstep.services.reports.book import overdue_by_city
from doorstep.store.db import transaction
from doorstep.store.repositories.batch import capacity_by_city


def demo(
    customers: Annotated[int, typer.Option(help="how many customers to make")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same book")] = 42,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="book date YYYY-MM-DD (default today)")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the web app after")
    ] = True,
    port: Annotated[int, typer.Option(help="web app port")] = 8000,
    days: Annotated[
        int,
        typer.Option(
            min=0,
            help="simulate this many days after the book date: daily batch, published plans, "
            "visits, promises and payments (the book date must not be past)",
        ),
    ] = 0,
) -> None:
    """Build a synthetic lender book, ingest it, compute delinquency, open cases, create
    demo users and teams, optionally simulate days of field work, and start the web app
    on 127.0.0.1."""
    config = settings().model_copy(update={"demo": True})  # its keys may sit beside the data
    today = datetime.now(config.zone).date()
    day = parse_day(as_of) if as_of else today
    if days and day < today:
        raise fail("--days simulates days from the book date on: it must not be past")
    folder = make_book(config, customers, seed, day)
    engine = ready_engine(config)
    # a book dated later has payments up to its date: it is ingested on that day's clock
    book_clock = day_clock(day, config) if day > today else None
    print_ingest(run_ingest(engine, config, [folder], clock=book_clock))
    run_batch(engine, config, day)
    print_cities(engine, day)
    demo_model(engine, config, day)  # selection then ranks by expected value
    with transaction(engine) as session:  # the teams first: each city fills its own
        logins = create_people(session, day, config.zone, hasher=users.standard_hasher())
        report = select_cases(
            session,
            SYSTEM,
            day,
            policy=selection_policy(config),
            capacity=capacity_by_city(session),
            buckets=config.bucket_scheme,
        )
    print_selection(report)
    print_logins(logins)
    if days:
        simulate_days(engine, config, folder, day, days, seed)
    if serve:
        console.print(f"web app: http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        run_server(host="127.0.0.1", port=port)


def make_book(config: Settings, customers: int, seed: int, day: date) -> Path:
    """The lender's files of a synthetic book, in a folder named by its parameters."""
    from doorstep.demo.generate import generate_book  # Faker is slow to import: only here

    folder = config.var_dir / "demo" / f"seed{seed}-{customers}-{day}"
    with progress_bar() as progress:
        made = generate_book(folder, customers=customers, seed=seed, as_of=day, progress=progress)
    console.print(
        f"demo book: {made.customers} customers, {made.loans} loans, "
        f"{made.payments} payments in {folder}"
    )
    return folder


def print_cities(engine: Engine, day: date) -> None:
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


def demo_model(engine: Engine, config: Settings, day: date) -> None:
    """Train visit_priority on the demo book, activate it and score the day, so that
    selection ranks by expected value and the model pages have something to show. A book
    too small to train on is said, not an error."""
    clock = SystemClock()
    try:
        with transaction(engine) as session, working("visit_priority model") as say:
            version = scoring.train_visit_priority(
                session, SYSTEM, day, config=TrainingConfig(), waterfall=config.waterfall_rule,
                buckets=config.bucket_scheme, clock=clock, progress=say,
            )  # fmt: skip
            scoring.activate(session, SYSTEM, version.id, now=clock.now(), reason="demo")
            report = scoring.apply(
                session, SYSTEM, day, waterfall=config.waterfall_rule,
                buckets=config.bucket_scheme, clock=clock, progress=say,
            )  # fmt: skip
    except DoorstepError as exc:
        console.print(f"no visit_priority model: {exc.message}")
        return
    print_version(version)
    console.print(
        f"scored {report.scored:,} customers on {day} "
        f"(mean P(no self-cure) {report.mean_probability:.3f})"
    )


def print_logins(logins: list[DemoLogin]) -> None:
    if not logins:
        console.print("demo users exist already (reset one with `doorstep users add`).")
        return
    people = Table(title="demo users (passwords are shown once)")
    for column in ("username", "role", "password"):
        people.add_column(column)
    for login in logins:
        people.add_row(login.username, login.role, login.password)
    console.print(people)


def simulate_days(
    engine: Engine, config: Settings, folder: Path, day: date, days: int, seed: int
) -> None:
    with progress_bar() as progress:
        done = simulate(
            engine,
            config,
            truth_file=folder / "demo_truth.csv",
            start=day,
            days=days,
            seed=seed,
            progress=progress,
        )
    console.print(
        f"simulated {done.days} days to {done.last_day}: {done.visits} visits "
        f"({done.reached} reached), {done.promises} promises, {done.refused} refused, "
        f"{done.payments} payments ({format_yuan(done.paid)} yuan)"
    )
