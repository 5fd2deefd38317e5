"""The outbox: an event for the lender is written in the caller's transaction, so it
exists exactly when the change it reports was committed. The delivery worker posts it.

The relay travels with the engine. An entry point with a broker configured builds its
engine with `relaying(engine, publisher)` (`doorstep.jobs.relay.relayed` does it from
the settings); once a transaction on that engine that wrote deliveries commits, their ids
are published, so a worker posts them at once. An engine without a publisher relays
nothing (the embedded default). The rows stay the source of truth: a publish that fails
(broker down) is only logged, and the next sweep (the batch's deliveries step,
`doorstep webhooks deliver`) delivers what is still pending.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from doorstep.domain.errors import InvalidValue
from doorstep.integrations.broker import Broker
from doorstep.store.models import OutboxEvent, WebhookDelivery
from doorstep.store.repositories import outbox as repo

TOPICS = ("visit.verdict", "case.closed", "promise.judged", "dispute.resolved")
DELIVER_TASK = "doorstep.deliver_webhook"
"""The task posting given deliveries (ids), shared by the relay and the workers."""
PENDING_KEY = "doorstep.outbox.deliveries"  # in Session.info: delivery ids to publish
PUBLISHER_OPTION = "doorstep_outbox_publisher"  # the engine's execution option
Publisher = Callable[[Sequence[int]], None]
log = logging.getLogger(__name__)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now: datetime) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 chars,
    so ids sort by creation time."""
    millis = int(now.timestamp() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def emit(session: Session, topic: str, key: str, payload: dict[str, Any], *, now: datetime) -> str:
    """Write one event (and its pending deliveries to every active endpoint subscribed
    to the topic) in the caller's transaction, made at `now`; returns the event id."""
    document = _checked(topic, key, payload)
    row = OutboxEvent(
        id=new_event_id(now), topic=topic, key=str(key), payload=document, created_at=now
    )
    session.add(row)
    session.flush()
    deliveries = [
        WebhookDelivery(
            event_id=row.id,
            endpoint_id=endpoint.id,
            state=repo.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint in repo.active_endpoints(session)
        if not endpoint.topics or topic in endpoint.topics
    ]
    session.add_all(deliveries)
    session.flush()
    if _publisher_of(session) is not None:
        session.info.setdefault(PENDING_KEY, []).extend(d.id for d in deliveries)
    return row.id


def _checked(topic: str, key: str, payload: dict[str, Any]) -> Any:
    """The payload as the JSON document stored, once topic, key and payload are valid."""
    if topic not in TOPICS:
        raise InvalidValue(
            f"topic: unknown event topic {topic!r}", message_zh=f"topic：未知的事件主题 {topic!r}"
        )
    if not key:
        raise InvalidValue("key: an event needs a key", message_zh="key：事件必须有键")
    try:
        return json.loads(json.dumps(payload, ensure_ascii=False, default=_reject))
    except TypeError as exc:
        raise InvalidValue(f"payload: {exc}", message_zh=f"payload：{exc}") from None


def _reject(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON (money goes as integer fen)")


# --- the relay -------------------------------------------------------------------------------


def relaying(engine: Engine, publisher: Publisher) -> Engine:
    """The same database (the same connection pool) whose sessions publish the ids of the
    deliveries a transaction wrote, with `publisher`, once it commits."""
    return engine.execution_options(**{PUBLISHER_OPTION: publisher})


def relays(bind: Engine | Connection) -> bool:
    """Whether sessions on `bind` publish the deliveries they commit."""
    return bind.get_execution_options().get(PUBLISHER_OPTION) is not None


def broker_publisher(broker: Broker, *, per_task: int = 50) -> Publisher:
    """A publisher sending the ids as `DELIVER_TASK` tasks (`per_task` ids each) to the
    broker; the Celery client is made on first use and kept."""
    clients: list[Any] = []

    def publish(ids: Sequence[int]) -> None:
        if not clients:
            clients.append(broker.sender())
        for start in range(0, len(ids), per_task):
            clients[0].send_task(
                DELIVER_TASK,
                args=(list(ids[start : start + per_task]),),
                queue=broker.queue,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )

    return publish


def _publisher_of(session: Session) -> Publisher | None:
    bind = session.bind
    if not isinstance(bind, Engine | Connection):
        return None
    found: Publisher | None = bind.get_execution_options().get(PUBLISHER_OPTION)
    return found


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    ids = session.info.pop(PENDING_KEY, None)
    publish = _publisher_of(session)
    if not ids or publish is None:
        return
    try:
        publish(sorted(set(ids)))
    except Exception:  # the rows are the truth: the next sweep delivers them
        log.warning("outbox relay: publishing %d deliveries failed", len(ids), exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
