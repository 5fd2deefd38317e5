"""`doorstep` — the operator's command line: the root app, built from the command modules.

Each module owns its commands (and its group's `typer.Typer`); this is the one place that
names them. The order below is the order `doorstep --help` lists them in."""

from __future__ import annotations

import typer

from doorstep.cli import (
    admin,
    batch,
    demo,
    disputes,
    exports,
    feedback,
    ingest,
    offers,
    plans,
    privacy,
    reports,
    rules,
    schedule,
    score,
    serve,
    worker,
)

app = typer.Typer(
    help="Doorstep: home-visit verification of overdue consumer loans.", no_args_is_help=True
)

app.command("ingest")(ingest.ingest)
app.command("schedule")(schedule.schedule)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("plan")(plans.plan)
app.command("report")(reports.report)
app.command("worker")(worker.worker)

app.add_typer(admin.db_app, name="db")
app.add_typer(batch.app, name="batch")
app.add_typer(exports.app, name="export")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(feedback.app, name="webhooks")
app.add_typer(offers.app, name="offers")
app.add_typer(rules.rules_app, name="rules")
app.add_typer(disputes.app, name="disputes")
app.add_typer(rules.retention_app, name="retention")
app.add_typer(privacy.app, name="privacy")
app.add_typer(score.app, name="score")

__all__ = ["app"]

if __name__ == "__main__":  # python -m doorstep.cli.main
    app()
