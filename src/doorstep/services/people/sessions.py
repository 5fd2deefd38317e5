"""Staff web sessions kept on the server. The browser's cookie holds only a random id and
the database its SHA-256, so ending a session on the server (sign-out, a password change,
disabling the user) ends every copy of the cookie at once; a session unused for the idle
timeout, or older than its lifetime, is over too."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.credentials import SessionTimes
from doorstep.domain.errors import NotSignedIn, SessionEnded, SessionExpired
from doorstep.store.models import User, UserSession
from doorstep.store.repositories import people as repo

SEEN_EVERY = timedelta(minutes=1)
"""The last request is recorded to the minute: not a write on every request."""
KEPT_AFTER = timedelta(days=1)
"""How long a finished session's row stays (idle timeouts are at most a day)."""


def _hash(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


def start(session: Session, user: User, *, now: datetime, replacing: str | None = None) -> str:
    """A new session for `user`: its random id, for the cookie (only its hash is stored).
    The session the browser held before, if any, ends: a new id at every sign-in."""
    if replacing:
        end(session, replacing, now=now, reason="replaced")
    repo.drop_old_sessions(session, user.id, now - KEPT_AFTER)
    raw_id = secrets.token_urlsafe(32)
    session.add(
        UserSession(id_hash=_hash(raw_id), user_id=user.id, created_at=now, last_seen_at=now)
    )
    session.flush()
    return raw_id


def user_of(session: Session, raw_id: str, *, now: datetime, times: SessionTimes) -> User:
    """The active user of a live session, and its last request moved to `now`; else why
    not: `SessionEnded` (ended on the server), `SessionExpired` (by time), `NotSignedIn`."""
    row = repo.web_session(session, _hash(raw_id))
    if row is None:
        raise NotSignedIn("sign in first", message_zh="请先登录")
    if row.ended_at is not None:
        raise SessionEnded
    if times.over(row.created_at, row.last_seen_at, now):
        raise SessionExpired
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise SessionEnded
    if now - row.last_seen_at >= SEEN_EVERY:
        repo.session_seen(session, row.id_hash, now, SEEN_EVERY)
    return user


def end(session: Session, raw_id: str, *, now: datetime, reason: str = "logout") -> None:
    """End the session with this id (sign-out): every copy of its cookie stops working."""
    row = repo.web_session(session, _hash(raw_id))
    if row is not None:
        repo.end_sessions(session, row.user_id, now, reason, id_hash=row.id_hash)


def end_all(session: Session, user_id: int, *, now: datetime, reason: str) -> int:
    """End every live session of the user (password change, disabled): how many."""
    return repo.end_sessions(session, user_id, now, reason)
