"""The outbox: an event for the lender is written in the caller's transaction, so it
exists exactly when the change it reports was committed. The feedback worker delivers it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.domain.errors import InvalidValue
from doorstep.store.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

TOPICS = ("visit.verdict", "case.closed", "promise.judged")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now: datetime | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 chars,
    so ids sort by creation time."""
    millis = int((now or datetime.now(UTC)).timestamp() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def emit(session: Session, topic: str, key: str, payload: dict[str, Any]) -> str:
    """Write one event (and its pending deliveries to every active endpoint subscribed
    to the topic) in the caller's transaction; returns the event id."""
    if topic not in TOPICS:
        raise InvalidValue(
            f"topic: unknown event topic {topic!r}", message_zh=f"topic：未知的事件主题 {topic!r}"
        )
    if not key:
        raise InvalidValue("key: an event needs a key", message_zh="key：事件必须有键")
    try:
        document = json.loads(json.dumps(payload, ensure_ascii=False, default=_reject))
    except TypeError as exc:
        raise InvalidValue(f"payload: {exc}", message_zh=f"payload：{exc}") from None
    now = datetime.now(UTC)
    event = OutboxEvent(
        id=new_event_id(now), topic=topic, key=str(key), payload=document, created_at=now
    )
    session.add(event)
    session.flush()
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active)).all()
    for endpoint in endpoints:
        if endpoint.topics and topic not in endpoint.topics:
            continue
        session.add(
            WebhookDelivery(
                event_id=event.id,
                endpoint_id=endpoint.id,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return event.id


def _reject(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON (money goes as integer fen)")
