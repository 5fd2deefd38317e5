"""Feedback to the lender: `doorstep webhooks` (endpoints and deliveries) and the feedback
file that `doorstep export feedback` writes."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from datetime import time as clock
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.common import (
    console,
    error_console,
    fail,
    parse_day,
    ready_engine,
    settings,
    split_list,
)
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.lender import feedback
from doorstep.store.db import transaction

app = typer.Typer(help="Webhooks to the lender.", no_args_is_help=True)


class FeedbackFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def retry_policy(config: Settings) -> feedback.RetryPolicy:
    return feedback.RetryPolicy(
        max_attempts=config.webhook_max_attempts,
        timeout=config.webhook_timeout_seconds,
        backoff=config.webhook_backoff_seconds,
        backoff_max=config.webhook_backoff_max_seconds,
        destinations=destinations(config),
    )


def destinations(config: Settings) -> feedback.Destinations:
    return feedback.Destinations(allow_private=config.webhook_allow_private)


@app.command("add")
def webhooks_add(
    url: str,
    topics: Annotated[
        str | None, typer.Option(help="comma-separated topics (default: every topic)")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="a note: which lender, which system")
    ] = None,
) -> None:
    """Register an endpoint; prints its signing secret once (give it to the lender)."""
    config = settings()
    cipher, _ = personal_data_keys(config)
    wanted = split_list(topics)
    try:
        with transaction(ready_engine(config)) as session:
            endpoint, secret = feedback.add_endpoint(
                session,
                SYSTEM,
                url,
                cipher,
                topics=wanted,
                description=description,
                destinations=destinations(config),
            )
            console.print(f"endpoint #{endpoint.id}: {url}")
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"signing secret (shown once): {secret}")


@app.command("list")
def webhooks_list() -> None:
    """Endpoints and their deliveries by state."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        table = Table("id", "url", "topics", "active", "pending", "delivered", "dead")
        for endpoint, counts in feedback.list_endpoints(session):
            table.add_row(
                str(endpoint.id),
                endpoint.url,
                ",".join(endpoint.topics) or "*",
                "yes" if endpoint.active else "no",
                *(str(counts.get(s, 0)) for s in ("pending", "delivered", "dead")),
            )
    console.print(table)


@app.command("deliver")
def webhooks_deliver(
    loop: Annotated[bool, typer.Option("--loop", help="keep delivering until stopped")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes with --loop")] = 2.0,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="deliveries per pass")] = 50,
) -> None:
    """Deliver due webhook events (retries with backoff; dead letters after the limit)."""
    config = settings()
    engine = ready_engine(config)
    cipher, _ = personal_data_keys(config)
    policy = retry_policy(config)
    while True:
        run = feedback.deliver_due(engine, cipher, policy, clock=SystemClock(), batch=batch)
        if run.claimed or not loop:
            console.print(
                f"claimed {run.claimed}: delivered {run.delivered}, "
                f"to retry {run.retried}, dead {run.dead}"
            )
        if not loop:
            return
        if run.claimed < batch:
            time.sleep(interval)


def export_feedback(
    since: Annotated[str, typer.Option("--since", help="verdicts updated since, YYYY-MM-DD")],
    output_format: Annotated[FeedbackFormat, typer.Option("--format")] = FeedbackFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write; '-' for stdout")
    ] = None,
) -> None:
    """Feedback for the lender (DESIGN §5): one row per verdict, money in yuan."""
    config = settings()
    start = datetime.combine(parse_day(since), clock(), config.zone)
    engine = ready_engine(config)
    stamp = parse_day(since).isoformat()
    target = output or config.var_dir / "exports" / f"feedback-{stamp}.{output_format.value}"
    if str(target) == "-":
        count = write_feedback(engine, start, output_format, sys.stdout)
        error_console.print(f"{count} rows written")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        count = write_feedback(engine, start, output_format, handle)
    partial.replace(target)  # never a half-written export under the real name
    console.print(f"{count} rows written to {target}")


def write_feedback(engine: Engine, start: datetime, fmt: FeedbackFormat, out: TextIO) -> int:
    with transaction(engine) as session:
        return feedback.write_feedback(session, start, out, jsonl=fmt is FeedbackFormat.jsonl)
