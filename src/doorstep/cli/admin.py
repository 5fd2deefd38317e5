"""Administration: `doorstep db` (the schema), `users`, `audit` (the keyed chain and its
checkpoints) and `keys` (personal-data encryption)."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.common import console, error_console, fail, ready_engine, settings
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Role
from doorstep.domain.audit import Checkpoint
from doorstep.domain.credentials import parse_scopes
from doorstep.domain.errors import AuditChainBroken, DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import audit_keyring, personal_data_keys
from doorstep.services.conduct import audit, audit_checks
from doorstep.services.conduct.personal_data import rotate_all
from doorstep.services.people import tokens, users
from doorstep.store.db import transaction

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
users_app.add_typer(tokens_app, name="tokens")
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
    """Disable a user: no sign-in, web sessions ended, API tokens revoked."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            users.set_active(session, SYSTEM, username, False, now=SystemClock().now())
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"disabled {username}")


@users_app.command("password")
def users_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="omit to be asked")] = None,
) -> None:
    """Set a user's password: every web session of the user ends."""
    secret = password or getpass.getpass("new password: ")
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            users.change_password(
                session,
                SYSTEM,
                username,
                secret,
                hasher=users.standard_hasher(),
                now=SystemClock().now(),
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"password changed for {username}; their sessions ended")


@users_app.command("unlock")
def users_unlock(
    username: str,
    address: Annotated[
        str | None, typer.Option(help="also lift the lock on this client address")
    ] = None,
) -> None:
    """Lift the sign-in back-off of an account (and of an address) now."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            lifted = users.unlock(
                session, SYSTEM, username, now=SystemClock().now(), address=address
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"unlocked {username}" if lifted else f"{username} was not locked")


@users_app.command("token")
def users_token(
    username: str,
    label: Annotated[str, typer.Option()] = "cli",
    scope: Annotated[
        str, typer.Option(help="what the token may do: read, write, feedback (comma-separated)")
    ] = "read",
    expires: Annotated[
        int, typer.Option(help="days until the token expires", min=1, max=366)
    ] = tokens.DEFAULT_LIFETIME.days,
) -> None:
    """Issue an API bearer token for a user (printed once)."""
    config = settings()
    now = SystemClock().now()
    try:
        with transaction(ready_engine(config)) as session:
            user = next((u for u in users.list_users(session) if u.username == username), None)
            if user is None:
                raise fail(f"no user {username!r}")
            token = tokens.issue(
                session,
                SYSTEM,
                user,
                label,
                scopes=parse_scopes(scope),
                expires_at=now + timedelta(days=expires),
                now=now,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(token)


@tokens_app.command("list")
def tokens_list(
    username: Annotated[str | None, typer.Argument(help="only this user's tokens")] = None,
) -> None:
    """API tokens: scopes, expiry, last use, revocation (never the token itself)."""
    config = settings()
    zone = config.zone
    try:
        with transaction(ready_engine(config)) as session:
            rows = tokens.listing(session, username)
    except DoorstepError as exc:
        raise fail(exc.message) from None
    table = Table("id", "user", "label", "scopes", "created", "expires", "last used", "revoked")
    for token, owner in rows:
        table.add_row(
            str(token.id),
            owner,
            token.label,
            token.scopes,
            *(_when(t, zone) for t in (token.created_at, token.expires_at)),
            *(_when(t, zone) for t in (token.last_used_at, token.revoked_at)),
        )
    console.print(table)


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    """Revoke an API token by its id (from `users tokens list`): it stops working now."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            tokens.revoke(session, SYSTEM, token_id, now=SystemClock().now())
    except DoorstepError as exc:
        raise fail(exc.message) from None
    console.print(f"revoked token {token_id}")


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
