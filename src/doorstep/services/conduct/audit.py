"""The audit trail: every write and every reveal of personal data, in a chain of links
keyed with the audit key (`domain.audit`). The entry point that builds an engine gives it
the keyring (`use_keys`); sessions on that engine sign what they commit. Checking the
chain, checkpoints and re-signing are in `audit_checks`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.audit import GENESIS, Keyring, canonical, keyed_link
from doorstep.domain.errors import KeyMaterialError
from doorstep.store.models import AuditEvent, AuditHead
from doorstep.store.models.base import utcnow
from doorstep.store.repositories import audit as repo

KEYS_OPTION = "doorstep_audit_keys"


def use_keys(engine: Engine, keys: Keyring) -> None:
    """Sessions on `engine` (and connections taken from it from now on) sign the audit
    events they commit with `keys`. The entry point that builds the engine calls this."""
    engine.update_execution_options(**{KEYS_OPTION: keys})


def keys_of(session: Session) -> Keyring:
    """The keyring of the session's engine; KeyMaterialError when it has none, so an event
    is never written unsigned."""
    bind = session.bind
    found = None
    if isinstance(bind, Engine | Connection):
        found = bind.get_execution_options().get(KEYS_OPTION)
    if not isinstance(found, Keyring):
        raise KeyMaterialError(
            "no audit key for this database: the entry point gives its engine one (audit.use_keys)",
            message_zh="此数据库未配置审计密钥",
        )
    return found


def event_content(event: AuditEvent) -> dict[str, Any]:
    """The fields the link covers (everything but the id, the links and the key id, which
    the link covers on its own)."""
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
        key_id=None,
    )
    session.info.setdefault(_PENDING, []).append(event)
    return event


@orm_event.listens_for(Session, "before_commit")
def chain_pending(session: Session) -> None:
    """Chain the transaction's queued events (at commit, or when the trail is read)."""
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    key = keys_of(session).signing  # before any write: no key, no commit
    # Lock the head: concurrent committers queue here instead of forking the chain.
    last = repo.advance_head(session, len(pending))
    if last is None:
        session.add(AuditHead(id=1, last_hash=GENESIS, events=len(pending)))
        session.flush()
        last = GENESIS
    for item in pending:  # ids follow the order added, so the chain follows the ids
        item.prev_hash, item.key_id = last, key.id
        item.hash = last = keyed_link(key, last, event_content(item))
        session.add(item)
    session.flush()
    repo.set_head_hash(session, last)


@orm_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def timeline(session: Session, object_type: str, object_id: str | int) -> list[AuditEvent]:
    """The object's events, this transaction's own included (reading chains them now)."""
    chain_pending(session)
    return repo.events_of(session, object_type, str(object_id))
