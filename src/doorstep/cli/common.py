"""What every command module shares: the consoles, settings and the migrated database,
errors and dates from the command line, and the progress displays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor
from doorstep.integrations.keys import audit_keyring, key_location_warnings, personal_data_keys
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.store import migrate
from doorstep.store.db import make_engine
from doorstep.store.repositories import people as people_repo

console = Console()
error_console = Console(stderr=True)

AsOf = Annotated[str, typer.Option("--as-of", help="as-of date, YYYY-MM-DD")]


def settings() -> Settings:
    """The configuration from the environment, read when a command starts."""
    return Settings()


def ready_engine(config: Settings) -> Engine:
    """The configured database, migrated to the current schema (values a revision
    encrypts need the keys); the audit events its sessions commit are signed with the
    configured audit key. Warns when the keys sit inside the data's folder."""
    for warning in key_location_warnings(config):
        error_console.print(f"[yellow]warning:[/yellow] {warning}")
    engine = make_engine(config.resolved_database_url)
    migrate.upgrade(engine, keys=personal_data_keys(config))
    audit.use_keys(engine, audit_keyring(config))
    return engine


def fail(message: str) -> typer.Exit:
    """Print the error; the caller raises what this returns (exit code 1)."""
    error_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text!r}") from None


def split_list(text: str | None) -> list[str]:
    """A comma-separated option as its non-empty, stripped items."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


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


@contextmanager
def working(title: str) -> Iterator[Callable[[str], None]]:
    """A Rich spinner with the elapsed time, its line replaced by each progress message."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as bar:
        task = bar.add_task(title, total=None)

        def say(message: str) -> None:
            bar.update(task, description=f"{title}: {message}")
            bar.console.print(f"[dim]{title}:[/dim] {message}", highlight=False)

        yield say


def acting_as(session: Session, username: str | None) -> Actor:
    """The staff user a command acts as (`--as NAME`), or the system."""
    if username is None:
        return SYSTEM
    user = people_repo.user_named(session, username)
    if user is None or not user.active:
        raise fail(f"no active user {username!r}")
    return users.actor_for(session, user)
