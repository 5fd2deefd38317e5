"""Commands for users, the audit chain, case selection, keys and the web server."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.main import (
    AsOf,
    app,
    batch_app,
    console,
    error_console,
    fail,
    parse_day,
    ready_engine,
    settings,
)
from doorstep.domain.access import SYSTEM, Role
from doorstep.domain.errors import DoorstepError
from doorstep.domain.selection import SelectionPolicy, value_terms
from doorstep.services.cases import SelectionReport, select_cases
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.store.db import make_engine, transaction

users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Personal-data encryption keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, manager, verifier, analyst or auditor")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    regions: Annotated[
        str | None, typer.Option(help="cities a manager runs, comma-separated")
    ] = None,
    badge: Annotated[str | None, typer.Option(help="badge number shown to borrowers")] = None,
    password: Annotated[str | None, typer.Option(help="omit to be asked")] = None,
) -> None:
    """Add a user (the password is asked for unless given)."""
    secret = password or getpass.getpass("password: ")
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            user = users.add_user(
                session,
                SYSTEM,
                users.NewUser(
                    username,
                    name or username,
                    role,
                    secret,
                    [r.strip() for r in regions.split(",")] if regions else None,
                    badge,
                ),
            )
            console.print(f"added {user.username} ({user.role})")
    except DoorstepError as exc:
        raise fail(exc.message) from None


@users_app.command("list")
def users_list() -> None:
    config = settings()
    with transaction(ready_engine(config)) as session:
        table = Table("username", "name", "role", "regions", "badge", "active")
        for user in users.list_users(session):
            table.add_row(
                user.username,
                user.display_name,
                user.role,
                ",".join(user.regions or []),
                user.badge_number or "",
                "yes" if user.active else "no",
            )
    console.print(table)


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user: no sign-in, API tokens revoked."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            users.set_active(session, SYSTEM, username, False)
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"disabled {username}")


@users_app.command("token")
def users_token(username: str, label: Annotated[str, typer.Option()] = "cli") -> None:
    """Issue an API bearer token for a user (printed once)."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        user = next((u for u in users.list_users(session) if u.username == username), None)
        if user is None:
            raise fail(f"no user {username!r}")
        token = users.issue_token(session, SYSTEM, user, label)
    console.print(token)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; report the first broken link (exit 1) or that it holds."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        count, broken = audit.verify(session)
    if broken:
        error_console.print(
            f"[red]audit chain broken at event {broken.event_id}: {broken.reason}[/red]"
            f" ({count} events read)"
        )
        raise typer.Exit(code=1)
    console.print(f"audit chain intact: {count} events")


@batch_app.command("select")
def batch_select(
    as_of: AsOf,
    teams: Annotated[int, typer.Option(help="teams in the field")] = 20,
    visits_per_team: Annotated[int, typer.Option(help="visits one team makes a day")] = 6,
    min_dpd: Annotated[int, typer.Option()] = 31,
    min_overdue: Annotated[str, typer.Option(help="yuan")] = "500.00",
) -> None:
    """Open cases for the customers the policy selects; the best `teams × visits` go ready."""
    from doorstep.domain.money import parse_yuan

    config = settings()
    uplift_bp, visit_cost = value_terms(config.visit_uplift, config.visit_cost)
    policy = SelectionPolicy(
        min_dpd=min_dpd,
        min_overdue=parse_yuan(min_overdue),
        uplift_bp=uplift_bp,
        visit_cost=visit_cost,
    )
    try:
        with transaction(ready_engine(config)) as session:
            report = select_cases(
                session,
                SYSTEM,
                parse_day(as_of),
                policy=policy,
                capacity=teams * visits_per_team,
                buckets=config.bucket_scheme,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    print_selection(report)


def print_selection(report: SelectionReport) -> None:
    ranked = (
        f"expected value (model version #{report.model_version_id})"
        if report.ranked_by == "expected_value"
        else "priority (overdue x bucket weight)"
    )
    table = Table(title=f"selection on {report.as_of}, ranked by {ranked}")
    table.add_column("figure")
    table.add_column("count", justify="right")
    for name in (
        "overdue_customers",
        "eligible",
        "opened",
        "made_ready",
        "over_capacity",
        "skip_trace",
        "updated",
        "cancelled_cured",
    ):
        table.add_row(name.replace("_", " "), str(getattr(report, name)))
    for rule, count in sorted(report.failed_rules.items()):
        table.add_row(f"not selected: {rule}", str(count))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every personal-data value under the first configured key. Put the new key
    first in DOORSTEP_DATA_KEYS, run this, then drop the old key."""
    from doorstep.integrations.keys import personal_data_keys
    from doorstep.services.conduct.personal_data import rotate_all

    config = settings()
    cipher, _ = personal_data_keys(config)
    with transaction(ready_engine(config)) as session:
        count = rotate_all(session, cipher)
        audit.record(session, SYSTEM, "keys.rotate", "system", "personal_data", {"values": count})
    console.print(f"re-encrypted {count} values")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    with_scheduler: Annotated[
        bool, typer.Option(help="also run the daily batch at DOORSTEP_BATCH_TIME each day")
    ] = False,
) -> None:
    """Run the web app (pages and the JSON API; OpenAPI at /docs)."""
    import uvicorn

    from doorstep.app import create_app
    from doorstep.cli.scheduler import build_scheduler
    from doorstep.jobs.relay import relayed

    config = settings()
    if config.broker_url:  # with a broker: outbox deliveries published after commit
        console.print("outbox relay: deliveries are published to the broker's workers")
    scheduler = (
        build_scheduler(relayed(ready_engine(config), config), config) if with_scheduler else None
    )
    if scheduler is not None:
        scheduler.start()
        console.print(f"daily batch at {config.batch_time:%H:%M} ({config.timezone})")
    try:
        # idle connections kept longer than clients keep theirs (httpx 5 s, a proxy's 60 s),
        # so the server never closes one just as a client sends on it
        uvicorn.run(
            create_app(config, engine=relayed(make_engine(config.resolved_database_url), config)),
            host=host,
            port=port,
            log_level="info",
            timeout_keep_alive=75,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
