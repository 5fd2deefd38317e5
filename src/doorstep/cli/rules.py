"""`doorstep rules show` (the effective conduct-rule pack), `doorstep rules check` (may I
call, text, visit or reveal now?) and `doorstep retention run`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import acting_as, console, fail, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.rules.kinds import shown
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services.cases import precheck
from doorstep.services.conduct import rules as conduct
from doorstep.services.lender import dossier
from doorstep.store.db import transaction

rules_app = typer.Typer(help="Conduct rules.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Record retention and personal-data minimising.", no_args_is_help=True
)


@rules_app.command("show")
def rules_show() -> None:
    """The effective pack: every rule, its parameters and where each value came from."""
    try:
        pack = settings().rules_pack
    except DoorstepError as exc:
        raise fail(exc.message) from None
    table = Table(title=f"{pack.name} — {', '.join(pack.sources)}")
    for column in ("rule", "check", "severity", "actions", "parameters (from)"):
        table.add_column(column)
    for rule in pack.rules:
        params = "\n".join(
            f"{k} = {shown(v)} ({rule.origins.get(k, '')})" for k, v in rule.params.items()
        )
        table.add_row(
            rule.id + ("" if rule.enabled else " (off)"),
            rule.check,
            f"{rule.severity.value} ({rule.origins.get('severity', '')})",
            ", ".join(a.value for a in rule.actions),
            params,
        )
    console.print(table)


@rules_app.command("check")
def rules_check(
    case_id: Annotated[int, typer.Argument(help="the case")],
    action: Annotated[precheck.Proposed, typer.Argument(help="call | sms | visit | reveal")],
    point: Annotated[int | None, typer.Option(help="the contact point of a call or SMS")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="when, with its offset (default: now)")
    ] = None,
    purpose: Annotated[str, typer.Option(help="of a reveal")] = "contact_verification",
    username: Annotated[str | None, typer.Option("--as", help="ask as this staff user")] = None,
) -> None:
    """Ask the conduct rules before acting: allowed, warned or blocked, with each rule that
    fired in zh_CN and en. Nothing is written. Exit status 1 when blocked."""
    config = settings()
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise fail("--at needs a time zone offset, e.g. 2026-03-09T21:30:00+08:00")
    try:
        with transaction(ready_engine(config)) as session:
            answer = precheck.ask(
                session,
                acting_as(session, username),
                case_id,
                action,
                at=when,
                pack=config.rules_pack,
                point_id=point,
                purpose=purpose,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"{action.value} on case {case_id} at {when.isoformat()}: {answer.outcome}")
    for rule in answer.rules:
        console.print(f"  {rule['id']} ({rule['severity']}): {rule['message_zh']}")
        console.print(f"    {rule['message_en']} — {rule['why']}")
    if answer.decision.blocked:
        raise typer.Exit(1)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report only, change nothing")] = False,
) -> None:
    """Minimise the personal data that is past its retention period and delete what goes
    with it (messages, notes, evidence files, change log, cached dossiers), or, with
    --dry-run, only report what would be kept, deleted or minimised; audited either way."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            lines = conduct.retention_report(
                session,
                SYSTEM,
                datetime.now(UTC),
                pack=config.rules_pack,
                personal_data_years=config.retention_personal_data_years,
                dry_run=dry_run,
                stores=conduct.Stores(
                    LocalEvidenceStore(config.var_dir / "evidence"),
                    dossier.cache_folder(config.var_dir),
                ),
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    table = Table(title="retention (dry run)" if dry_run else "retention")
    for column in ("table", "rule", "keep years", "rows", "past period", "legal hold", "action"):
        table.add_column(column)
    for line in lines:
        table.add_row(
            line.table,
            line.rule,
            str(line.keep_years),
            str(line.rows),
            str(line.past_period),
            str(line.legal_hold),
            line.action,
        )
    console.print(table)
