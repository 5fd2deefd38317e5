"""The outbox: an event and its deliveries are written in the caller's transaction (and
vanish with it), bad input is refused naming the field, an engine built with a relay
publishes what its transactions committed (and nothing else), and the schema matches
0009."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select

from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import InvalidValue
from doorstep.services import outbox
from doorstep.services.lender import feedback
from doorstep.services.outbox import emit, new_event_id
from doorstep.store.db import transaction
from doorstep.store.models import Base, OutboxEvent, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.db
LOCAL = feedback.Destinations(allow_private=True)  # lender.example need not resolve here
T0 = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)


def test_emit_writes_in_the_callers_transaction(engine: Engine, keys: tuple[Any, Any]) -> None:
    cipher, _ = keys
    with transaction(engine) as session:
        feedback.add_endpoint(
            session, SYSTEM, "https://lender.example/all", cipher, destinations=LOCAL
        )
        feedback.add_endpoint(
            session,
            SYSTEM,
            "https://lender.example/closed",
            cipher,
            topics=["case.closed"],
            destinations=LOCAL,
        )
        endpoint = session.scalars(select(WebhookEndpoint)).first()
        assert endpoint is not None and endpoint.secret_encrypted.startswith("gAAAA")
    with transaction(engine) as session:
        verdict = emit(session, "visit.verdict", "12", {"case_id": 12, "理由": "失业"}, now=T0)
        later = T0 + timedelta(milliseconds=1)
        closed = emit(session, "case.closed", "12", {"case_id": 12}, now=later)
    with pytest.raises(RuntimeError):
        fail_after_emit(engine)
    with transaction(engine) as session:
        events = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert [e.id for e in events] == [verdict, closed]  # ULIDs sort by time
        assert events[0].payload == {"case_id": 12, "理由": "失业"} and events[0].key == "12"
        per_event = dict(
            session.execute(
                select(WebhookDelivery.event_id, func.count()).group_by(WebhookDelivery.event_id)
            ).all()
        )
        assert per_event == {verdict: 1, closed: 2}


def refused_after_emit(engine: Engine) -> None:
    with transaction(engine) as session:
        emit(session, "case.closed", "2", {"case_id": 2}, now=T0)
        raise RuntimeError("the change is refused")


def fail_after_emit(engine: Engine) -> None:
    with transaction(engine) as session:
        emit(session, "visit.verdict", "13", {"case_id": 13}, now=T0)
        raise RuntimeError("the verdict failed after the event was written")


@pytest.mark.parametrize(
    ("topic", "key", "payload", "field"),
    [
        ("visit.nonsense", "1", {}, "topic"),
        ("visit.verdict", "", {}, "key"),
        ("visit.verdict", "1", {"amount": Decimal("1.5")}, "payload"),
    ],
)
def test_bad_events_are_refused(
    engine: Engine, topic: str, key: str, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue, match=field), transaction(engine) as session:
        emit(session, topic, key, payload, now=T0)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_event_ids_sort_by_time() -> None:
    now = datetime.now(UTC)
    ids = [new_event_id(now + timedelta(milliseconds=n)) for n in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50 and all(len(i) == 26 for i in ids)


def test_a_relaying_engine_publishes_what_its_transactions_committed(
    engine: Engine, keys: tuple[Any, Any]
) -> None:
    cipher, _ = keys
    published: list[list[int]] = []
    relayed = outbox.relaying(engine, lambda ids: published.append(list(ids)))
    assert outbox.relays(relayed) and not outbox.relays(engine)
    with transaction(engine) as session:
        feedback.add_endpoint(
            session, SYSTEM, "https://lender.example/all", cipher, destinations=LOCAL
        )
        feedback.add_endpoint(
            session, SYSTEM, "https://lender.example/more", cipher, destinations=LOCAL
        )
    with transaction(relayed) as session:
        event_id = emit(session, "case.closed", "1", {"case_id": 1}, now=T0)
        assert published == []  # not before the commit
    with transaction(engine) as session:
        written = session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id)
        ).all()
    assert len(written) == 2 and published == [sorted(written)]

    with pytest.raises(RuntimeError):
        refused_after_emit(relayed)
    with transaction(engine) as session:  # the engine as it is relays nothing
        emit(session, "case.closed", "3", {"case_id": 3}, now=T0)
    assert len(published) == 1

    def broker_down(ids: Sequence[int]) -> None:
        raise ConnectionError("the broker is down")

    with transaction(outbox.relaying(engine, broker_down)) as session:
        emit(session, "case.closed", "4", {"case_id": 4}, now=T0)  # committed all the same
    with transaction(engine) as session:
        keys_kept = session.scalars(select(OutboxEvent.key).order_by(OutboxEvent.key)).all()
    assert keys_kept == ["1", "3", "4"]


def test_schema_matches_the_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in ("outbox", "webhook", "ix_verdicts_feed"))]
    assert mine == []
