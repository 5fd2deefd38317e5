"""`doorstep privacy`: privacy requests (PIPL Arts 44–50) from the command line — list,
show, file, take a step, export an access request's copy — and the processing record
(`privacy record`, which docs/privacy.md holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import acting_as, console, fail, ready_engine, settings
from doorstep.config import Settings
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.domain.privacy import ReceivedVia, RequestKind, Subject
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.conduct import privacy
from doorstep.store.db import transaction

app = typer.Typer(help="Privacy requests and the processing record (PIPL).", no_args_is_help=True)

As = Annotated[
    str | None, typer.Option("--as", help="act as this staff user (default: the system)")
]
Version = Annotated[int | None, typer.Option(help="the version you saw (refused if changed)")]


def _policy(config: Settings) -> privacy.Policy:
    cipher, hasher = personal_data_keys(config)
    return privacy.policy_of(config, cipher, hasher)


@app.command("list")
def privacy_list(
    everything: Annotated[bool, typer.Option("--all", help="closed ones too")] = False,
    username: As = None,
) -> None:
    """Requests with their deadlines, the earliest first; overdue ones marked."""
    config = settings()
    today = SystemClock().now().astimezone(config.zone).date()
    try:
        with transaction(ready_engine(config)) as session:
            rows = privacy.listing(
                session, acting_as(session, username), today, everything=everything
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    table = Table(title=f"privacy requests on {today}")
    for column in ("id", "who", "kind", "state", "received", "due", ""):
        table.add_column(column)
    for row in rows:
        r = row.request
        who = r.customer_id if r.subject == "borrower" else r.phone_masked
        flag = "OVERDUE" if row.overdue else ("hold lapsed" if row.hold_lapsed else "")
        table.add_row(
            str(r.id),
            f"{r.subject} {who}",
            r.kind,
            r.state,
            str(r.received_on),
            str(r.due_on),
            flag,
        )
    console.print(table)


@app.command("show")
def privacy_show(request_id: int, username: As = None) -> None:
    """One request, its holds and every step of its audit trail."""
    config = settings()
    policy = _policy(config)
    today = SystemClock().now().astimezone(config.zone).date()
    try:
        with transaction(ready_engine(config)) as session:
            shown = privacy.view(
                session, acting_as(session, username), request_id, policy.cipher, today
            )
            for key, value in privacy.summary(shown.request).items():
                console.print(f"{key}: {value}")
            console.print(f"details: {shown.details or ''}")
            for event in shown.trail:
                console.print(f"{event.at:%Y-%m-%d %H:%M} {event.actor} {event.action}")
    except DoorstepError as exc:
        raise fail(exc.message) from None


@app.command("file")
def privacy_file(
    subject: Annotated[Subject, typer.Option(help="borrower or third_party")],
    kind: Annotated[RequestKind, typer.Option(help="access, correct, delete, withdraw_consent")],
    via: Annotated[ReceivedVia, typer.Option(help="how it came")] = ReceivedVia.LETTER,
    customer: Annotated[str | None, typer.Option(help="the borrower's customer id")] = None,
    phone: Annotated[str | None, typer.Option(help="a third party's number")] = None,
    name: Annotated[str | None, typer.Option(help="a third party's name")] = None,
    details: Annotated[str | None, typer.Option(help="what they ask, in their words")] = None,
    username: As = None,
) -> None:
    """Receive a request; it is due DOORSTEP_PRIVACY_REQUEST_DAYS days later."""
    config = settings()
    new = privacy.NewRequest(subject, kind, via, customer, phone, name, details)
    try:
        with transaction(ready_engine(config)) as session:
            request = privacy.file_request(
                session,
                acting_as(session, username),
                new,
                policy=_policy(config),
                now=SystemClock().now(),
            )
            console.print(f"request {request.id} received, due {request.due_on}")
    except DoorstepError as exc:
        raise fail(exc.message) from None


@app.command("step")
def privacy_step(
    request_id: int,
    action: Annotated[str, typer.Argument(help="verify, start, complete, refuse or resume")],
    identified_by: Annotated[
        str | None, typer.Option(help="verify: callback, id_document or written")
    ] = None,
    text: Annotated[
        str | None, typer.Option(help="verify: what was seen; refuse: why; complete: what was done")
    ] = None,
    version: Version = None,
    username: As = None,
) -> None:
    """Take one step of a request (a deletion checks the legal holds first)."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            request = privacy.take(
                session,
                acting_as(session, username),
                request_id,
                action,
                policy=_policy(config),
                now=SystemClock().now(),
                identified_by=identified_by,
                text=text,
                version=version,
            )
            said = request.refusal or request.outcome or ""
            console.print(f"request {request.id}: {request.state} {said}".rstrip())
    except DoorstepError as exc:
        raise fail(exc.message) from None


@app.command("export")
def privacy_export(
    request_id: int,
    output: Annotated[Path, typer.Option("-o", "--output", help="the ZIP file to write")],
    username: As = None,
) -> None:
    """Write a verified access request's copy (personal data in clear: hand it over, do
    not keep it); its SHA-256 is kept on the request and in the audit trail."""
    config = settings()
    policy = _policy(config)
    try:
        with transaction(ready_engine(config)) as session:
            _, document = privacy.export(
                session,
                acting_as(session, username),
                request_id,
                cipher=policy.cipher,
                store=policy.stores.evidence,
                now=SystemClock().now(),
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    output.touch(mode=0o600)
    output.write_bytes(document)
    console.print(f"wrote {output} ({len(document)} bytes)")


@app.command("record")
def privacy_record(
    write: Annotated[
        Path | None, typer.Option(help="replace the record inside this document (docs/privacy.md)")
    ] = None,
) -> None:
    """The processing record (personal data, purpose, legal basis, retention, who sees it,
    where stored) generated from the models, the roles and the settings."""
    config = settings()
    try:
        record = privacy.render_record(config.rules_pack, config.retention_personal_data_years)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if write is None:
        typer.echo(record)
        return
    write.write_text(privacy.replace_record(write.read_text(encoding="utf-8"), record), "utf-8")
    console.print(f"updated the processing record in {write}")
