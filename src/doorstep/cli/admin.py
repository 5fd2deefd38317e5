"""Administration: `doorstep db` (the schema), `users`, `audit` (the hash chain) and
`keys` (personal-data encryption)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import console, error_console, fail, ready_engine, settings
from doorstep.domain.access import SYSTEM, Role
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.conduct import audit
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


@keys_app.command("rotate")
def keys_rotate(
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash/--no-rehash",
            help="also recompute the lookup hashes: after changing DOORSTEP_CIPHER (aes/sm4)",
        ),
    ] = False,
) -> None:
    """Re-encrypt every personal-data value under the first configured key and the
    configured cipher (DOORSTEP_CIPHER). Put the new key first in DOORSTEP_DATA_KEYS, run
    this, then drop the old key."""
    config = settings()
    cipher, hasher = personal_data_keys(config)
    with transaction(ready_engine(config)) as session:
        count = rotate_all(session, cipher, hasher=hasher if rehash else None)
        summary = {"values": count, "cipher": config.cipher, "rehashed": rehash}
        audit.record(session, SYSTEM, "keys.rotate", "system", "personal_data", summary)
    console.print(f"re-encrypted {count} values")
