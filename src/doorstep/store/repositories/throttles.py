"""Throttle counters: each attempt is counted and judged in one statement.

`claim` is one INSERT … ON CONFLICT DO UPDATE … WHERE the key is not locked: PostgreSQL
locks the row and re-checks the WHERE against the latest version, SQLite runs the whole
statement under its write lock; either way, of N attempts sent at once on a key, only as
many as the rule allows are counted, and the rest find it locked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from doorstep.domain.credentials import Backoff
from doorstep.store.models import PortalCode, Throttle
from doorstep.store.types import UTCDateTime

TABLE = Throttle.__table__


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def claim(session: Session, key: str, rule: Backoff, now: datetime) -> datetime | None:
    """Count an attempt on `key` unless it is locked at `now`: None when counted (the
    attempt may go ahead), else the time the lock ends."""
    row = TABLE.c
    forgotten = row.last_at <= _at(now - rule.forget)
    attempts = case((forgotten, 1), else_=row.attempts + 1)
    steps = rule.steps()
    last, longest = steps[-1]
    locked_until = case(
        *[(attempts == n, _at(now + lock)) for n, lock in steps[:-1]],
        (attempts >= last, _at(now + longest)),
        else_=None,
    )
    first_lock = rule.lock_after(1)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(TABLE)
        .values(
            key=key, attempts=1, last_at=now, locked_until=now + first_lock if first_lock else None
        )
        .on_conflict_do_update(
            index_elements=[row.key],
            set_={"attempts": attempts, "last_at": _at(now), "locked_until": locked_until},
            where=or_(row.locked_until.is_(None), row.locked_until <= _at(now)),
        )
        .returning(row.attempts)
    )
    if session.execute(statement).first() is not None:
        return None
    until = session.scalar(select(Throttle.locked_until).where(Throttle.key == key))
    return until if until is not None and until > now else now


def refund(session: Session, key: str) -> None:
    """Take back one counted attempt that turned out not to be a guess (it succeeded, or
    another key refused it). The key was unlocked when it was counted, so it is again."""
    session.execute(
        update(Throttle)
        .where(Throttle.key == key, Throttle.attempts > 0)
        .values(attempts=Throttle.attempts - 1, locked_until=None)
    )


def clear(session: Session, key: str) -> bool:
    """Forget the key's attempts and lock (a right password, an administrator's unlock)."""
    result = session.execute(delete(Throttle).where(Throttle.key == key))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def forget_stale(session: Session, before: datetime, now: datetime) -> None:
    """Drop counters with no attempt since `before` and no lock running."""
    session.execute(
        delete(Throttle).where(
            Throttle.last_at < before,
            or_(Throttle.locked_until.is_(None), Throttle.locked_until <= now),
        )
    )


def take_code_try(session: Session, code_id: int, max_tries: int, now: datetime) -> int | None:
    """Count one try on a live portal code, unless it has had `max_tries`: the count after
    this try, or None (used, expired or out of tries). One conditional UPDATE."""
    return session.execute(
        update(PortalCode)
        .where(
            PortalCode.id == code_id,
            PortalCode.tries < max_tries,
            PortalCode.used_at.is_(None),
            PortalCode.expires_at > now,
        )
        .values(tries=PortalCode.tries + 1)
        .returning(PortalCode.tries)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def use_code(session: Session, code_id: int, now: datetime) -> bool:
    """Mark a portal code used; False when another request used it first."""
    result = session.execute(
        update(PortalCode)
        .where(PortalCode.id == code_id, PortalCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
