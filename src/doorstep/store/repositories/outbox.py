"""Queries of the outbox: events for the lender, the webhook endpoints that receive them
and one delivery row per (event, endpoint)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.store.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def active_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active)))


def endpoints(session: Session) -> list[WebhookEndpoint]:
    """Every endpoint, in the order they were added."""
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def delivery_counts(session: Session) -> list[tuple[int, str, int]]:
    """(endpoint id, delivery state, deliveries) for each pair that has deliveries."""
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.state
        )
    )
    return [(endpoint_id, state, n) for endpoint_id, state, n in rows]


def lock_due_deliveries(
    session: Session, now: datetime, *, limit: int, delivery_ids: Sequence[int] | None = None
) -> list[WebhookDelivery]:
    """Up to `limit` pending deliveries due at `now` (only these ids, when given), oldest
    first, locked for this transaction: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so rows
    another worker holds are passed over; SQLite serialises writers by itself."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if delivery_ids is not None:
        query = query.where(WebhookDelivery.id.in_(delivery_ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def events_by_id(session: Session, ids: Iterable[str]) -> dict[str, OutboxEvent]:
    query = select(OutboxEvent).where(OutboxEvent.id.in_(set(ids)))
    return {event.id: event for event in session.scalars(query)}


def endpoints_by_id(session: Session, ids: Iterable[int]) -> dict[int, WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id.in_(set(ids)))
    return {endpoint.id: endpoint for endpoint in session.scalars(query)}


def due_delivery_ids(session: Session, now: datetime, *, limit: int) -> list[int]:
    """Ids of the pending deliveries due at `now`, oldest first (not locked)."""
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def dead_deliveries(
    session: Session, *, limit: int
) -> list[tuple[WebhookDelivery, OutboxEvent, str]]:
    """The dead deliveries, newest event first, each with its event and endpoint URL."""
    rows = session.execute(
        select(WebhookDelivery, OutboxEvent, WebhookEndpoint.url)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.state == DEAD)
        .order_by(OutboxEvent.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [(delivery, event, url) for delivery, event, url in rows]
