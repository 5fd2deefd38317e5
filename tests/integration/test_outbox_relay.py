"""The outbox relay with a real Redis broker, a real worker and PostgreSQL: deliveries
written on a relaying engine are published once their transaction commits and posted by
the worker; a delivery task handed over twice posts nothing the second time; the batch's
sweep publishes what an engine without the relay left; a rolled-back transaction
publishes nothing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.integrations.broker import Broker
from doorstep.integrations.crypto import new_data_key
from doorstep.integrations.keys import personal_data_keys
from doorstep.services import outbox
from doorstep.services.batch.daily import DEFAULT_STEPS, run_day, webhook_destinations
from doorstep.services.lender import feedback
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import WebhookDelivery
from tests.factories.audit import signing
from tests.integration.test_jobs_worker import (  # noqa: F401 (fixtures)
    BROKER,
    pg_url,
    running_worker,
    task_queue,
)
from tests.integration.test_webhooks import Receiver, receiver  # noqa: F401 (fixture)

pytestmark = [pytest.mark.db, pytest.mark.slow]
KEYS = {"DOORSTEP_DATA_KEYS": new_data_key(), "DOORSTEP_LOOKUP_KEY": new_data_key()}
LOCAL = {"DOORSTEP_WEBHOOK_ALLOW_PRIVATE": "1"}  # the receiver listens on 127.0.0.1, over http


@pytest.fixture
def worker(pg_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:  # noqa: F811
    with running_worker(pg_url, tmp_path, KEYS | LOCAL) as process:
        yield process


def delivery(engine: Engine, delivery_id: int) -> tuple[str, int, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            select(
                WebhookDelivery.state, WebhookDelivery.attempts, WebhookDelivery.delivered_at
            ).where(WebhookDelivery.id == delivery_id)
        ).one()
    return row[0], row[1], row[2]


def wait_delivered(engine: Engine, delivery_id: int, log: Path) -> None:
    for _ in range(300):
        if delivery(engine, delivery_id)[0] == "delivered":
            return
        time.sleep(0.1)
    raise AssertionError(f"not delivered; worker log: {log.read_text()[-3000:]}")


def emit(engine: Engine, key: str) -> int:
    with transaction(engine) as session:
        payload = {"case": key, "owed": 12_300}
        event_id = outbox.emit(session, "case.closed", key, payload, now=datetime.now(UTC))
        return session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id)
        ).one()


def test_relay_publishes_after_commit_and_a_repeated_task_changes_nothing(
    pg_url: str,  # noqa: F811
    worker: subprocess.Popen[bytes],
    receiver: Receiver,  # noqa: F811
    task_queue: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = Settings(
        var_dir=tmp_path / "batch",
        database_url=pg_url,
        broker_url=BROKER,
        data_keys=KEYS["DOORSTEP_DATA_KEYS"],
        lookup_key=KEYS["DOORSTEP_LOOKUP_KEY"],
        webhook_allow_private=True,
    )
    cipher, _ = personal_data_keys(config)
    engine = signing(make_engine(pg_url))
    client = Celery("doorstep-test", broker=BROKER, backend=BROKER, set_as_current=False)
    try:
        migrate.upgrade(engine)
        with transaction(engine) as session:
            _, receiver.secret = feedback.add_endpoint(
                session, SYSTEM, receiver.url, cipher, destinations=webhook_destinations(config)
            )

        publisher = outbox.broker_publisher(Broker(BROKER, BROKER, task_queue))
        relayed = outbox.relaying(engine, publisher)
        first = emit(relayed, "1")
        wait_delivered(engine, first, tmp_path / "worker.log")
        assert delivery(engine, first)[:2] == ("delivered", 1)
        assert len(receiver.acknowledged) == 1

        # the same task delivered again (a redelivery after a lost acknowledgement)
        before = delivery(engine, first)
        for _ in range(2):
            sent = client.send_task(outbox.DELIVER_TASK, args=([first],), queue=task_queue)
            again = sent.get(timeout=60)
            assert again["claimed"] == 0
        assert delivery(engine, first) == before
        assert len(receiver.acknowledged) == 1 and receiver.bad_signatures == 0

        # a transaction that rolls back publishes nothing, and leaves nothing behind
        def refused() -> None:
            with transaction(relayed) as session:
                outbox.emit(session, "case.closed", "2", {"case": "2"}, now=datetime.now(UTC))
                raise RuntimeError("the change is refused")

        with pytest.raises(RuntimeError):
            refused()

        # the relay missed one (written on the engine without it): the batch's sweep sends it
        missed = emit(engine, "3")
        time.sleep(1.0)
        assert delivery(engine, missed)[0] == "pending"
        steps = [s for s in DEFAULT_STEPS if s.name == "deliveries"]
        [outcome] = run_day(engine, config, date(2025, 7, 1), steps=steps)
        assert dict(outcome.counts) == {"published": 1}
        wait_delivered(engine, missed, tmp_path / "worker.log")
        assert len(receiver.acknowledged) == 2
        assert len(set(receiver.acknowledged)) == 2  # each event once
        assert receiver.requests == 2  # the rolled-back event was never posted
        assert worker.poll() is None
    finally:
        client.close()
        engine.dispose()


def test_a_broker_that_is_down_does_not_fail_the_commit(
    pg_url: str,  # noqa: F811
) -> None:
    engine = signing(make_engine(pg_url))
    try:
        migrate.upgrade(engine)
        cipher, _ = personal_data_keys(
            Settings(data_keys=KEYS["DOORSTEP_DATA_KEYS"], lookup_key=KEYS["DOORSTEP_LOOKUP_KEY"])
        )
        with transaction(engine) as session:
            feedback.add_endpoint(
                session,
                SYSTEM,
                "http://127.0.0.1:9/hook",
                cipher,
                destinations=feedback.Destinations(allow_private=True),
            )
        down = outbox.broker_publisher(Broker("redis://127.0.0.1:1/0", ""))
        started = time.monotonic()
        kept = emit(outbox.relaying(engine, down), "9")  # committed although publishing fails
        assert time.monotonic() - started < 20
        assert delivery(engine, kept)[0] == "pending"  # the sweep will send it
    finally:
        engine.dispose()
