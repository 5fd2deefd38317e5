"""Feedback to the lender: webhook endpoints, the delivery worker and its dead letters.

The worker claims due deliveries in a short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers share the queue; SQLite serialises writers by itself),
pushes their next attempt past the request timeout as a lease, commits, then POSTs each
one outside any transaction and records the result in another short transaction. A
worker that dies mid-request leaves the lease to expire and the delivery is tried again;
the receiver drops the repeat by the event id."""

from __future__ import annotations

import base64
import binascii
import csv
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Permission
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.domain.money import format_yuan
from doorstep.domain.ports import Cipher
from doorstep.integrations import webhooks
from doorstep.services.conduct import audit
from doorstep.services.lender.outbox import TOPICS
from doorstep.store.db import transaction
from doorstep.store.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from doorstep.store.repositories import feedback as repo
from doorstep.store.repositories.feedback import FeedbackRow

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"your role cannot do this ({permission.value})",
            message_zh=f"您的角色无权执行此操作（{permission.value}）",
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    timeout: float = 10.0
    backoff: float = 30.0  # seconds before the first retry, doubled each time
    backoff_max: float = 6 * 3600.0

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
        """Exponential backoff with jitter: between half and all of base * 2^(n-1)."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling * (0.5 + 0.5 * rand()))


# -- endpoints ------------------------------------------------------------------------


def add_endpoint(
    session: Session,
    actor: Actor,
    url: str,
    cipher: Cipher,
    *,
    topics: Sequence[str] = (),
    description: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a lender's endpoint; returns it and its signing secret (shown once)."""
    require(actor, Permission.MANAGE_USERS)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValue(
            f"url: not an http(s) URL: {url!r}", message_zh=f"url：不是 http(s) 地址：{url!r}"
        )
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
    endpoints = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    counts: dict[int, dict[str, int]] = {
        e.id: {PENDING: 0, DELIVERED: 0, DEAD: 0} for e in endpoints
    }
    for endpoint_id, state, n in session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.state
        )
    ):
        counts.setdefault(endpoint_id, {})[state] = n
    return [(e, counts[e.id]) for e in endpoints]


# -- the worker -----------------------------------------------------------------------


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
    deliveries = session.scalars(query).all()
    if not deliveries:
        return []
    events = {
        e.id: e
        for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_({d.event_id for d in deliveries}))
        )
    }
    endpoints = {
        e.id: e
        for e in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({d.endpoint_id for d in deliveries})
            )
        )
    }
    jobs = []
    for delivery in deliveries:
        event, endpoint = events[delivery.event_id], endpoints[delivery.endpoint_id]
        delivery.next_attempt_at = now + lease
        if not endpoint.active:
            continue  # kept pending: delivered if the endpoint is switched back on
        jobs.append(
            Job(
                delivery.id,
                delivery.attempts,
                endpoint.url,
                endpoint.secret_encrypted,
                event.id,
                event.topic,
                webhooks.event_body(
                    event.id, event.topic, event.key, event.created_at.isoformat(), event.payload
                ),
            )
        )
    session.flush()
    return jobs


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
    batch: int = 50,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    delivery_ids: Sequence[int] | None = None,
) -> DeliveryRun:
    """One pass of the worker: claim a batch (of `delivery_ids` only, when given: the
    relay's task for one event), post each, record each. Opens its own short
    transactions (a request to the lender never runs inside one)."""
    run = DeliveryRun()
    lease = timedelta(seconds=policy.timeout + 30)
    with transaction(engine) as session:
        jobs = claim_due(session, now(), limit=batch, lease=lease, delivery_ids=delivery_ids)
    run.claimed = len(jobs)
    for job in jobs:
        timestamp = int(now().timestamp())
        headers = {
            webhooks.SIGNATURE_HEADER: webhooks.sign(
                cipher.decrypt(job.secret_encrypted), job.body, timestamp
            ),
            webhooks.EVENT_ID_HEADER: job.event_id,
            webhooks.TOPIC_HEADER: job.topic,
        }
        result = webhooks.post(job.url, job.body, headers, timeout=policy.timeout)
        with transaction(engine) as session:
            state = record_result(session, job, result, now(), policy)
        if state == DELIVERED:
            run.delivered += 1
        elif state == DEAD:
            run.dead += 1
        else:
            run.retried += 1
    return run


# -- dead letters ---------------------------------------------------------------------


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


def due_deliveries(session: Session, now: datetime, *, limit: int = 10_000) -> list[int]:
    """Ids of the pending deliveries due now, oldest first (what the relay's sweep
    publishes when a broker is configured)."""
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def dead_letters(session: Session, actor: Actor, *, limit: int = 200) -> list[DeadLetter]:
    require(actor, Permission.RUN_BATCHES)
    rows = session.execute(
        select(WebhookDelivery, OutboxEvent, WebhookEndpoint.url)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.state == DEAD)
        .order_by(OutboxEvent.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [
        DeadLetter(
            d.id, e.id, e.topic, e.key, url, d.attempts, d.last_status, d.last_error, e.created_at
        )
        for d, e, url in rows
    ]


def retry_dead(session: Session, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a dead delivery back to the queue with a fresh set of attempts."""
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
    delivery.next_attempt_at = datetime.now(UTC)
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


# -- the feedback feed (export and API) -------------------------------------------------

FEEDBACK_COLUMNS = (
    "case_id",
    "loan_ids",
    "visit_id",
    "checked_in_at",
    "checked_out_at",
    "reached",
    "address_valid",
    "reason",
    "reasons",
    "hardship_or_evasion",
    "ability",
    "willingness",
    "ptp_amount",
    "ptp_date",
    "next_step",
    "reviewed_at",
    "verifier_ids",
    "evidence_sha256",
    "updated_at",
)
MAX_PAGE = 1000


def feedback_record(row: FeedbackRow) -> dict[str, Any]:
    """One row as the lender receives it: money as yuan strings ("1234.56"), times ISO."""
    return {
        "case_id": row.case_id,
        "loan_ids": row.loan_ids,
        "visit_id": row.visit_id,
        "checked_in_at": row.checked_in_at.isoformat(),
        "checked_out_at": row.checked_out_at.isoformat() if row.checked_out_at else None,
        "reached": row.reached,
        "address_valid": row.address_status,
        "reason": row.primary_reason,
        "reasons": row.reasons,
        "hardship_or_evasion": row.hardship_or_evasion,
        "ability": None if row.ability_per_month is None else format_yuan(row.ability_per_month),
        "willingness": row.willingness,
        "ptp_amount": None if row.ptp_amount is None else format_yuan(row.ptp_amount),
        "ptp_date": row.ptp_date.isoformat() if row.ptp_date else None,
        "next_step": row.next_step,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "verifier_ids": row.verifier_ids,
        "evidence_sha256": row.evidence_sha256,
        "updated_at": row.updated_at.isoformat(),
    }


def csv_cells(record: dict[str, Any]) -> list[str]:
    """A record flattened for CSV: lists joined by ';', booleans true/false, None empty."""
    cells = []
    for column in FEEDBACK_COLUMNS:
        value = record[column]
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        elif isinstance(value, list):
            cells.append(";".join(str(v) for v in value))
        else:
            cells.append(str(value))
    return cells


def encode_cursor(row: FeedbackRow) -> str:
    raw = json.dumps([row.updated_at.isoformat(), row.verdict_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, verdict_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(verdict_id, int):
            raise ValueError
        return moment, verdict_id
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidValue(
            "cursor: not a cursor this feed returned", message_zh="cursor：无效的分页游标"
        ) from None


def feedback_page(
    session: Session,
    actor: Actor,
    since: datetime,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[FeedbackRow], str | None]:
    """A page of the feed and the cursor of the next one (None: nothing more for now)."""
    require(actor, Permission.READ_AUDIT)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(
            f"limit: must be between 1 and {MAX_PAGE}",
            message_zh=f"limit：须在 1 到 {MAX_PAGE} 之间",
        )
    if since.tzinfo is None:
        raise InvalidValue("since: needs a time zone", message_zh="since：须带时区")
    after = decode_cursor(cursor) if cursor else None
    rows = repo.feedback_page(session, since, after, limit)
    return rows, encode_cursor(rows[-1]) if len(rows) == limit else None


def iter_feedback(
    session: Session, since: datetime, *, until: datetime | None = None, batch: int = 500
) -> Iterator[FeedbackRow]:
    """Every row changed from `since` (until before `until`), read a page at a time in
    the order of change (the export)."""
    after: tuple[datetime, int] | None = None
    while True:
        rows = repo.feedback_page(session, since, after, batch)
        for row in rows:
            if until is not None and row.updated_at >= until:
                return
            yield row
        if len(rows) < batch:
            return
        after = (rows[-1].updated_at, rows[-1].verdict_id)


def write_feedback(
    session: Session,
    since: datetime,
    out: TextIO,
    *,
    until: datetime | None = None,
    jsonl: bool = False,
) -> int:
    """The lender's feedback file (DESIGN §5): CSV with a header, or JSON lines; returns
    the rows written."""
    writer = None if jsonl else csv.writer(out)
    if writer is not None:
        writer.writerow(FEEDBACK_COLUMNS)
    count = 0
    for row in iter_feedback(session, since, until=until):
        record = feedback_record(row)
        if writer is None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer.writerow(csv_cells(record))
        count += 1
    return count


def daily_file(folder: Path, day: date) -> Path:
    return folder / "feedback" / f"feedback-{day.isoformat()}.csv"


def write_daily_file(session: Session, day: date, zone: ZoneInfo, folder: Path) -> tuple[Path, int]:
    """The feedback file of one business day (every verdict last changed that day, local
    time), written whole under its final name or not at all; a rerun rewrites the same
    file. Returns (path, rows)."""
    target = daily_file(folder, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(day, time(0), zone)
    partial = target.with_name(target.name + ".part")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        rows = write_feedback(session, start, handle, until=start + timedelta(days=1))
    partial.replace(target)  # never a half-written file under the real name
    return target, rows
