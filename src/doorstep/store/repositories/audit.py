"""Queries of the audit trail: the chain's head row and reading events in id order."""

from __future__ import annotations

from sqlalchemy import select, update
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


def set_head_hash(session: Session, last_hash: str) -> None:
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=last_hash))


def events_after(session: Session, last_id: int, limit: int) -> list[AuditEvent]:
    """The next `limit` events after id `last_id`, in id (chain) order."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(limit)
        ).all()
    )


def events_of(session: Session, object_type: str, object_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        )
    )
