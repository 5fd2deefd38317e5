"""`doorstep disputes open|resolve|list`: a dispute of the debt from a case, its answer
(the lender is told through the outbox), and the customer's open holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import acting_as, console, fail, ready_engine, settings
from doorstep.domain.errors import DoorstepError
from doorstep.services.cases import dispute_desk
from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.store.db import transaction

app = typer.Typer(help="Disputes of the debt and the customer's holds.", no_args_is_help=True)
As = Annotated[str | None, typer.Option("--as", help="act as this staff user")]
Note = Annotated[str, typer.Option(help="what is disputed, or how it was resolved")]


@app.command("open")
def open_(
    case_id: Annotated[int, typer.Argument(help="a case of the customer")],
    kind: Annotated[DisputeKind, typer.Argument(help="not_my_loan | amount_wrong | already_paid")],
    note: Note,
    username: As = None,
) -> None:
    """Record a dispute: the customer (and their open case) is held until it is answered,
    within 30 days."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            actor = acting_as(session, username)
            now = datetime.now(UTC)
            hold = dispute_desk.open_for_case(session, actor, case_id, kind, note, now)
            due = f"{hold.respond_by.astimezone(config.zone):%Y-%m-%d}" if hold.respond_by else "-"
            console.print(f"dispute {hold.id} of {hold.customer_id}: answer by {due}")
    except DoorstepError as exc:
        raise fail(exc.message) from None


@app.command("resolve")
def resolve(
    dispute_id: Annotated[int, typer.Argument(help="the dispute (its hold id)")],
    outcome: Annotated[DisputeOutcome, typer.Argument(help="upheld | rejected | corrected")],
    note: Note,
    username: As = None,
) -> None:
    """Answer a dispute: the hold ends and the lender is told the outcome."""
    try:
        with transaction(ready_engine(settings())) as session:
            actor = acting_as(session, username)
            now = datetime.now(UTC)
            hold = dispute_desk.resolve(session, actor, dispute_id, outcome, note, now)
            console.print(f"dispute {hold.id} of {hold.customer_id}: {outcome.value}")
    except DoorstepError as exc:
        raise fail(exc.message) from None


@app.command("list")
def list_(
    case_id: Annotated[int, typer.Argument(help="a case of the customer")],
    username: As = None,
) -> None:
    """The open holds of the case's customer: disputes, complaints, hardship, ..."""
    try:
        config = settings()
        with transaction(ready_engine(config)) as session:
            actor = acting_as(session, username)
            held = dispute_desk.customer_holds(session, actor, case_id, datetime.now(UTC))
            table = Table(title=f"open holds of the customer of case {case_id}")
            for column in ("id", "type", "detail", "since", "answer by", "ends"):
                table.add_column(column)
            for h in held:
                days = [d.astimezone(config.zone) if d else None for d in (h.respond_by, h.ends_at)]
                table.add_row(str(h.id), h.type, h.detail or "",
                              f"{h.started_at.astimezone(config.zone):%Y-%m-%d %H:%M}",
                              *(f"{d:%Y-%m-%d}" if d else "" for d in days))  # fmt: skip
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(table)
