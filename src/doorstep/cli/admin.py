"""Administration: `doorstep db` (the schema), `users`, `audit` (the keyed chain and its
checkpoints) and `keys` (personal-data encryption)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.common import console, error_console, fail, ready_engine, settings
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Role
from doorstep.domain.audit import Checkpoint
from doorstep.domain.errors import AuditChainBroken, DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import audit_keyring, personal_data_keys
from doorstep.services.conduct import audit, audit_checks
from doorstep.services.conduct.personal_data import rotate_all
from doorstep.services.people import users
from doorstep.store.db import transaction

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Personal-data encryption keys.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    engine = ready_engine(settings())
    console.print(f"database at head: {engine.url.render_as_string()}")


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
                hasher=users.standard_hasher(),
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
            users.set_active(session, SYSTEM, username, False, now=SystemClock().now())
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
    """Check every link of the audit chain against the audit key(s) and the chain against
    the latest checkpoint; exit 1 naming the first problem (event and reason)."""
    config = settings()
    path = config.audit_checkpoint_file
    with transaction(ready_engine(config)) as session:
        found = audit_checks.verify(session, audit_keyring(config), path)
    if found.broken:
        where = f" at event {found.broken.event_id}" if found.broken.event_id else ""
        error_console.print(
            f"[red]audit chain broken{where}: {found.broken.reason}[/red]"
            f" ({found.events} events read)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
    mark = found.checkpoint
    anchored = (
        f"; it holds the checkpoint of {mark.at} (event {mark.event_id}, {mark.count} events)"
        if mark
        else f"; no checkpoint in {path} yet, so a cut tail would not be found"
    )
    console.print(
        f"audit chain intact: {found.events} events{anchored}", highlight=False, soft_wrap=True
    )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Check the chain since the last checkpoint and append a signed checkpoint of its head
    to DOORSTEP_AUDIT_CHECKPOINTS; exit 1 (nothing written) if the chain is broken."""
    config = settings()
    mark = _checkpoint(ready_engine(config), config)
    console.print(
        f"checkpoint written to {config.audit_checkpoint_file}: event {mark.event_id}, "
        f"{mark.count} events",
        highlight=False,
        soft_wrap=True,
    )


def _checkpoint(engine: Engine, config: Settings) -> Checkpoint:
    try:
        with transaction(engine) as session:
            return audit_checks.checkpoint(
                session,
                SYSTEM,
                audit_keyring(config),
                config.audit_checkpoint_file,
                SystemClock().now(),
            )
    except AuditChainBroken as exc:
        raise fail(exc.message) from None


@audit_app.command("resign")
def audit_resign() -> None:
    """Once, after upgrading from the plain SHA-256 chain: check the whole chain, re-sign
    every event with the audit key, then checkpoint it. Exit 1 (nothing changed) if the
    chain does not hold."""
    config = settings()
    engine, keys = ready_engine(config), audit_keyring(config)
    try:
        with transaction(engine) as session:
            count = audit_checks.resign(session, SYSTEM, keys)
    except AuditChainBroken as exc:
        raise fail(exc.message) from None
    if not count:
        console.print("every event is signed with an audit key already: nothing re-signed")
        return
    mark = _checkpoint(engine, config)
    console.print(
        f"re-signed {count} events with audit key {keys.signing.id}; checkpoint: event "
        f"{mark.event_id}, {mark.count} events",
        highlight=False,
        soft_wrap=True,
    )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every personal-data value under the first configured key. Put the new key
    first in DOORSTEP_DATA_KEYS, run this, then drop the old key."""
    config = settings()
    cipher, _ = personal_data_keys(config)
    with transaction(ready_engine(config)) as session:
        count = rotate_all(session, cipher)
        audit.record(session, SYSTEM, "keys.rotate", "system", "personal_data", {"values": count})
    console.print(f"re-encrypted {count} values")
