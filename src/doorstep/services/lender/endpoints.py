"""The lender's webhook endpoints and the deliveries that died: what an administrator
registers, looks at and sends back to the queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import InvalidValue, NotFound
from doorstep.domain.ports import Cipher
from doorstep.integrations import webhooks
from doorstep.services.conduct import audit
from doorstep.services.lender.permission import require
from doorstep.services.outbox import TOPICS
from doorstep.store.models import WebhookDelivery, WebhookEndpoint
from doorstep.store.repositories import outbox as repo
from doorstep.store.repositories.outbox import DEAD, DELIVERED, PENDING


def add_endpoint(
    session: Session,
    actor: Actor,
    url: str,
    cipher: Cipher,
    *,
    topics: Sequence[str] = (),
    description: str | None = None,
    destinations: webhooks.Destinations = webhooks.PUBLIC_ONLY,
) -> tuple[WebhookEndpoint, str]:
    """Register a lender's endpoint; returns it and its signing secret (shown once). The
    URL must be one `destinations` allows: https to public addresses, unless the operator
    allows private ones (`Settings.webhook_destinations`)."""
    require(actor, Permission.MANAGE_USERS)
    destinations.check(url)
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise InvalidValue(
            f"topics: unknown topic(s) {', '.join(unknown)}; known: {', '.join(TOPICS)}",
            message_zh=f"topics：未知的主题 {', '.join(unknown)}",
        )
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        secret_encrypted=cipher.encrypt(secret),
        topics=list(topics),
        active=True,
        description=description,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor,
        "webhook.add",
        "webhook_endpoint",
        endpoint.id,
        {"url": url, "topics": list(topics)},
    )
    return endpoint, secret


def list_endpoints(session: Session) -> list[tuple[WebhookEndpoint, dict[str, int]]]:
    """Every endpoint with its deliveries counted by state."""
    endpoints = repo.endpoints(session)
    counts: dict[int, dict[str, int]] = {
        e.id: {PENDING: 0, DELIVERED: 0, DEAD: 0} for e in endpoints
    }
    for endpoint_id, state, n in repo.delivery_counts(session):
        counts.setdefault(endpoint_id, {})[state] = n
    return [(e, counts[e.id]) for e in endpoints]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    delivery_id: int
    event_id: str
    topic: str
    key: str
    url: str
    attempts: int
    last_status: int | None
    last_error: str | None
    event_created_at: datetime


def dead_letters(session: Session, actor: Actor, *, limit: int = 200) -> list[DeadLetter]:
    require(actor, Permission.RUN_BATCHES)
    return [
        DeadLetter(
            d.id, e.id, e.topic, e.key, url, d.attempts, d.last_status, d.last_error, e.created_at
        )
        for d, e, url in repo.dead_deliveries(session, limit=limit)
    ]


def retry_dead(
    session: Session, actor: Actor, delivery_id: int, *, now: datetime
) -> WebhookDelivery:
    """Send a dead delivery back to the queue with a fresh set of attempts, due `now`."""
    require(actor, Permission.RUN_BATCHES)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found", message_zh=f"投递 {delivery_id} 不存在")
    if delivery.state != DEAD:
        raise InvalidValue(
            f"delivery_id: delivery {delivery_id} is {delivery.state}, not dead",
            message_zh=f"delivery_id：投递 {delivery_id} 当前状态为 {delivery.state}，不是死信",
        )
    delivery.state, delivery.attempts = PENDING, 0
    delivery.next_attempt_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "webhook.retry",
        "webhook_delivery",
        delivery.id,
        {"event_id": delivery.event_id},
    )
    return delivery
