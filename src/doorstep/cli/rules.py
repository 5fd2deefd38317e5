"""`doorstep rules show` (the effective conduct-rule pack) and `doorstep retention run`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import console, fail, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.rules.kinds import shown
from doorstep.integrations.evidence import LocalEvidenceStore
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
