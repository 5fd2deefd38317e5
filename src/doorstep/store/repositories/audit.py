"""Queries of the audit trail: the chain's head row and reading events in id order."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import AuditEvent, AuditHead


def advance_head(session: Session, events: int) -> str | None:
    """Count `events` more on the head row and return its last hash (None: no head yet).
    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite): concurrent
    committers queue here instead of forking the chain."""
    last: str | None = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(events=AuditHead.events + events)
        .returning(AuditHead.last_hash)
    ).scalar_one_or_none()
    return last


def lock_head(session: Session) -> tuple[int, str] | None:
    """The head's (events, last hash), its lock held until the transaction ends (so no
    event joins the chain meanwhile); None: no event yet."""
    row = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(events=AuditHead.events)
        .returning(AuditHead.events, AuditHead.last_hash)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def head(session: Session) -> tuple[int, str] | None:
    """The head's (events, last hash) as committed now, without a lock."""
    row = session.execute(
        select(AuditHead.events, AuditHead.last_hash).where(AuditHead.id == 1)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def set_head_hash(session: Session, last_hash: str) -> None:
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=last_hash))


def events_after(session: Session, last_id: int, limit: int) -> list[AuditEvent]:
    """The next `limit` events after id `last_id`, in id (chain) order."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(limit)
        ).all()
    )


def events_through(session: Session, event_id: int) -> int:
    """How many events the chain holds up to and including id `event_id`."""
    return session.scalar(select(func.count()).where(AuditEvent.id <= event_id)) or 0


def has_unsigned(session: Session) -> bool:
    """Whether any event still has a plain SHA-256 link (no key id)."""
    unsigned = select(AuditEvent.id).where(AuditEvent.key_id.is_(None)).limit(1)
    return session.scalar(unsigned) is not None


def events_of(session: Session, object_type: str, object_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        )
    )
