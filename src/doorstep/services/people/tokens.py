"""API bearer tokens: shown once and stored as a SHA-256, each with its scopes (read,
write, feedback) and an expiry; the time of its last use is kept (to the minute), so an
unused or leaked token can be found and revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.credentials import Scope, format_scopes, parse_scopes
from doorstep.domain.errors import InvalidValue, NotFound, NotSignedIn, OutsideScope, TokenExpired
from doorstep.services.conduct import audit
from doorstep.store.models import ApiToken, User
from doorstep.store.repositories import people as repo

DEFAULT_SCOPES = frozenset({Scope.READ})
DEFAULT_LIFETIME = timedelta(days=90)
USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Credential:
    """Who a bearer token speaks for, and what it may do."""

    user: User
    scopes: frozenset[Scope]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    by: Actor,
    user: User,
    label: str,
    *,
    scopes: frozenset[Scope],
    expires_at: datetime,
    now: datetime,
) -> str:
    """A new bearer token (shown once; only its hash is stored)."""
    if not scopes:
        raise InvalidValue("a token needs a scope", message_zh="令牌至少需要一种权限")
    if expires_at <= now:
        raise InvalidValue("a token must expire later", message_zh="令牌的过期时间须晚于现在")
    token = "dst_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_hash(token),
        label=label,
        scopes=format_scopes(scopes),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        by,
        "token.issue",
        "user",
        user.id,
        {"token": row.id, "label": label, "scopes": row.scopes, "expires": expires_at.isoformat()},
    )
    return token


def credential(session: Session, token: str, *, now: datetime) -> Credential:
    """The live token's user and scopes, its use recorded; `TokenExpired` past its expiry,
    `NotSignedIn` when unknown, revoked or its user disabled."""
    found = repo.token_and_user(session, _hash(token))
    if found is None or found[0].revoked_at is not None or not found[1].active:
        raise NotSignedIn("unknown or revoked API token", message_zh="API 令牌无效或已吊销")
    row, user = found
    if row.expires_at <= now:
        raise TokenExpired
    if row.last_used_at is None or now - row.last_used_at >= USED_EVERY:
        repo.token_used(session, row.id, now, USED_EVERY)
    return Credential(user, parse_scopes(row.scopes))


def require(held: frozenset[Scope], needed: Scope | None) -> None:
    """Refuse (403) a token used beyond its scopes; `needed` None: any token will do."""
    if needed is not None and needed not in held:
        raise OutsideScope(needed.value, format_scopes(held))


def listing(session: Session, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens with their user's name, newest first (of `username` only, when given)."""
    if username is None:
        return repo.tokens(session)
    user = repo.user_named(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}", message_zh=f"没有用户 {username!r}")
    return repo.tokens(session, user.id)


def revoke(session: Session, by: Actor, token_id: int, *, now: datetime) -> ApiToken:
    """The token stops working at `now` (audited)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}", message_zh=f"没有令牌 {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
        audit.record(session, by, "token.revoke", "user", row.user_id, {"token": row.id})
    return row
