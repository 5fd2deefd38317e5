"""The delivery worker: posts the outbox's deliveries to the lender's endpoints.

It claims due deliveries in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
so several workers share the queue; SQLite serialises writers by itself), pushes their
next attempt past the request timeout as a lease, commits, then POSTs each one outside
any transaction and records the result in another short transaction. A worker that dies
mid-request leaves the lease to expire and the delivery is tried again; the receiver
drops the repeat by the event id."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM
from doorstep.domain.ports import Cipher, Clock
from doorstep.integrations import webhooks
from doorstep.services.conduct import audit
from doorstep.store.db import transaction
from doorstep.store.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from doorstep.store.repositories import outbox as repo
from doorstep.store.repositories.outbox import DEAD, DELIVERED, PENDING


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How deliveries are made: attempts, timeout, backoff, and where they may go (each
    delivery checks its endpoint's URL again: a name may resolve elsewhere since)."""

    max_attempts: int = 8
    timeout: float = 10.0
    backoff: float = 30.0  # seconds before the first retry, doubled each time
    backoff_max: float = 6 * 3600.0
    destinations: webhooks.Destinations = webhooks.PUBLIC_ONLY

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
        """Exponential backoff with jitter: between half and all of base * 2^(n-1)."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling * (0.5 + 0.5 * rand()))


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    attempts: int  # before this one
    url: str
    secret_encrypted: str
    event_id: str
    topic: str
    body: bytes


@dataclass(slots=True)
class DeliveryRun:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def claim_due(
    session: Session,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    delivery_ids: Sequence[int] | None = None,
) -> list[Job]:
    """Lock up to `limit` due pending deliveries (only these, when `delivery_ids` is
    given), push their next attempt `lease` ahead (so no other worker takes them while
    this one is posting) and return them. A delivery already delivered, dead, leased or
    locked by another worker is not claimed: the same task delivered twice posts once."""
    deliveries = repo.lock_due_deliveries(session, now, limit=limit, delivery_ids=delivery_ids)
    if not deliveries:
        return []
    events = repo.events_by_id(session, (d.event_id for d in deliveries))
    endpoints = repo.endpoints_by_id(session, (d.endpoint_id for d in deliveries))
    jobs = []
    for delivery in deliveries:
        endpoint = endpoints[delivery.endpoint_id]
        delivery.next_attempt_at = now + lease
        if endpoint.active:  # else kept pending: delivered if the endpoint is switched back on
            jobs.append(_job(delivery, events[delivery.event_id], endpoint))
    session.flush()
    return jobs


def _job(delivery: WebhookDelivery, event: OutboxEvent, endpoint: WebhookEndpoint) -> Job:
    body = webhooks.event_body(
        event.id, event.topic, event.key, event.created_at.isoformat(), event.payload
    )
    return Job(
        delivery.id,
        delivery.attempts,
        endpoint.url,
        endpoint.secret_encrypted,
        event.id,
        event.topic,
        body,
    )


def record_result(
    session: Session,
    job: Job,
    result: webhooks.PostResult,
    now: datetime,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> str:
    """Store one attempt's outcome; returns the delivery's new state."""
    delivery = session.get(WebhookDelivery, job.delivery_id)
    if delivery is None or delivery.state != PENDING:
        return delivery.state if delivery else DEAD
    delivery.attempts = job.attempts + 1
    delivery.last_status = result.status
    delivery.last_error = result.error
    if result.ok:
        delivery.state, delivery.delivered_at = DELIVERED, now
    elif delivery.attempts >= policy.max_attempts:
        delivery.state = DEAD
        audit.record(
            session,
            SYSTEM,
            "webhook.dead",
            "webhook_delivery",
            delivery.id,
            {"event_id": job.event_id, "attempts": delivery.attempts, "error": result.error},
        )
    else:
        delivery.next_attempt_at = now + policy.delay(delivery.attempts, rand)
    session.flush()
    return delivery.state


def deliver_due(
    engine: Engine,
    cipher: Cipher,
    policy: RetryPolicy,
    *,
    clock: Clock,
    batch: int = 50,
    delivery_ids: Sequence[int] | None = None,
) -> DeliveryRun:
    """One pass of the worker: claim a batch (of `delivery_ids` only, when given: the
    relay's task for one event), post each, record each. Opens its own short
    transactions (a request to the lender never runs inside one)."""
    run = DeliveryRun()
    lease = timedelta(seconds=policy.timeout + 30)
    with transaction(engine) as session:
        jobs = claim_due(session, clock.now(), limit=batch, lease=lease, delivery_ids=delivery_ids)
    run.claimed = len(jobs)
    for job in jobs:
        result = _post(job, cipher, policy, clock.now())
        with transaction(engine) as session:
            state = record_result(session, job, result, clock.now(), policy)
        if state == DELIVERED:
            run.delivered += 1
        elif state == DEAD:
            run.dead += 1
        else:
            run.retried += 1
    return run


def _post(job: Job, cipher: Cipher, policy: RetryPolicy, now: datetime) -> webhooks.PostResult:
    """POST one job, signed with its endpoint's secret at `now`."""
    headers = {
        webhooks.SIGNATURE_HEADER: webhooks.sign(
            cipher.decrypt(job.secret_encrypted), job.body, int(now.timestamp())
        ),
        webhooks.EVENT_ID_HEADER: job.event_id,
        webhooks.TOPIC_HEADER: job.topic,
    }
    return webhooks.post(
        job.url, job.body, headers, timeout=policy.timeout, destinations=policy.destinations
    )


def due_deliveries(session: Session, now: datetime, *, limit: int = 10_000) -> list[int]:
    """Ids of the pending deliveries due now, oldest first (what the relay's sweep
    publishes when a broker is configured)."""
    return repo.due_delivery_ids(session, now, limit=limit)
