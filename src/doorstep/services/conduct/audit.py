"""The audit trail: every write and every reveal of personal data, hash-chained."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.audit import GENESIS, BrokenLink, canonical, chain_hash, verify_chain
from doorstep.store.models import AuditEvent, AuditHead
from doorstep.store.models.base import utcnow
from doorstep.store.repositories import audit as repo


def event_content(event: AuditEvent) -> dict[str, Any]:
    """The fields the hash covers (everything but the id and the hashes)."""
    return {
        "at": event.at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "reason": event.reason,
        "request_id": event.request_id,
    }


_PENDING = "doorstep.audit.pending"


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    summary: Mapping[str, Any] | None = None,
    *,
    reason: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Add one event to the chain when the caller's transaction commits (and never, if it
    rolls back). Chaining at commit holds the chain's head for milliseconds instead of a
    whole transaction: concurrent check-ins, submissions and reveals no longer queue
    behind each other's photo writes and rule checks.

    The event is dated when it is recorded, as every row's created_at is: the trail says
    when the system wrote it, whatever business time the action was about."""
    event = AuditEvent(
        at=utcnow(),
        actor=actor.username,
        role=actor.role.value,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=json.loads(canonical(summary or {})),  # stored exactly as hashed
        reason=reason,
        request_id=request_id,
        prev_hash="",
        hash="",
    )
    session.info.setdefault(_PENDING, []).append(event)
    return event


@orm_event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Chain the transaction's queued events (at commit, or when the trail is read)."""
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    # Lock the head: concurrent committers queue here instead of forking the chain.
    last = repo.advance_head(session, len(pending))
    if last is None:
        session.add(AuditHead(id=1, last_hash=GENESIS, events=len(pending)))
        session.flush()
        last = GENESIS
    for item in pending:  # ids follow the order added, so the chain follows the ids
        item.prev_hash = last
        item.hash = last = chain_hash(last, event_content(item))
        session.add(item)
    session.flush()
    repo.set_head_hash(session, last)


@orm_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def verify(session: Session, batch: int = 5000) -> tuple[int, BrokenLink | None]:
    """(events checked, first broken link or None), streaming the table in id order."""
    _chain_pending(session)
    checked, last_hash = 0, GENESIS

    def rows() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
        nonlocal checked, last_hash
        last_id = 0
        while True:
            events = repo.events_after(session, last_id, batch)
            if not events:
                return
            for event in events:
                checked += 1
                last_hash = event.hash
                yield event.id, event.prev_hash, event.hash, event_content(event)
            last_id = events[-1].id
            session.expunge_all()

    broken = verify_chain(rows())
    head = session.get(AuditHead, 1)
    if broken is None and head is not None and head.events != checked:
        broken = BrokenLink(0, f"the head counts {head.events} events, the table holds {checked}")
    if broken is None and head is not None and head.last_hash != last_hash:
        # A dropped tail with the counter lowered to match: the head still holds the
        # hash of the last event it extended the chain with.
        broken = BrokenLink(0, "the head's last hash is not the last event's: events dropped")
    return checked, broken


def timeline(session: Session, object_type: str, object_id: str | int) -> list[AuditEvent]:
    """The object's events, this transaction's own included (reading chains them now)."""
    _chain_pending(session)
    return repo.events_of(session, object_type, str(object_id))
