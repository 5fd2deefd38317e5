"""Webhook delivery against a real HTTP receiver on 127.0.0.1: it fails the first
deliveries (a 500, then a timeout) and checks every event arrives exactly once by id,
each with a valid signature."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.errors import DoorstepError, SignatureError
from doorstep.domain.ports import SystemClock
from doorstep.integrations import webhooks
from doorstep.services.lender import feedback
from doorstep.services.lender.feedback import Destinations, RetryPolicy, deliver_due
from doorstep.services.outbox import emit
from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, WebhookDelivery

pytestmark = pytest.mark.db
# A timeout long enough that an answered request is never taken for a timed-out one on a
# loaded machine (it would be posted again: at least once, not exactly once); the scripted
# "timeout" answers after three of them.
LOCAL = Destinations(allow_private=True)  # the receiver listens on 127.0.0.1, over http
FAST = RetryPolicy(max_attempts=6, timeout=2.0, backoff=0.01, backoff_max=0.05, destinations=LOCAL)
CLOCK = SystemClock()


@dataclass
class Receiver:
    secret: str = ""
    script: list[str] = field(default_factory=list)  # what to do with the next requests
    acknowledged: list[str] = field(default_factory=list)  # event ids answered 2xx
    bad_signatures: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.requests += 1
                action = state.script.pop(0) if state.script else "ok"
            if action == "timeout":
                time.sleep(FAST.timeout * 3)
            elif action == "500":
                self.send_response(500)
                self.end_headers()
                return
            try:
                webhooks.verify(state.secret, self.headers[webhooks.SIGNATURE_HEADER], body)
            except SignatureError:
                with state.lock:
                    state.bad_signatures += 1
                self.send_response(400)
                self.end_headers()
                return
            event_id = self.headers[webhooks.EVENT_ID_HEADER]
            assert json.loads(body)["id"] == event_id
            if action == "ok":
                with state.lock:
                    state.acknowledged.append(event_id)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting (the timeout case)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def drain(engine: Engine, cipher: Any, policy: RetryPolicy = FAST, rounds: int = 200) -> None:
    for _ in range(rounds):
        run = deliver_due(engine, cipher, policy, clock=CLOCK, batch=10)
        with transaction(engine) as session:
            left = session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.state == "pending")
            ).all()
        if not left:
            return
        if run.claimed == 0:
            time.sleep(0.02)
    raise AssertionError("deliveries still pending")


def test_every_event_arrives_exactly_once_despite_failures(
    engine: Engine, keys: tuple[Any, Any], receiver: Receiver
) -> None:
    cipher, _ = keys
    with transaction(engine) as session:
        _endpoint, receiver.secret = feedback.add_endpoint(
            session, SYSTEM, receiver.url, cipher, destinations=LOCAL
        )
    receiver.script = ["500", "timeout", "500"]
    with transaction(engine) as session:
        ids = [
            emit(
                session,
                "visit.verdict",
                str(case),
                {"case_id": case, "ability": 150000},
                now=CLOCK.now(),
            )
            for case in range(1, 8)
        ]
    drain(engine, cipher)
    assert Counter(receiver.acknowledged) == Counter(ids)  # each once, none missing
    assert receiver.bad_signatures == 0
    assert receiver.requests == len(ids) + 3  # the three failures were retried
    with transaction(engine) as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert {r.state for r in rows} == {"delivered"}
        retried = [r for r in rows if r.attempts > 1]
        assert retried and all(r.delivered_at is not None for r in rows)
    # a second pass finds nothing to do: delivered stays delivered
    assert deliver_due(engine, cipher, FAST, clock=CLOCK).claimed == 0
    assert receiver.requests == len(ids) + 3


def test_dead_letter_after_max_attempts_and_manual_retry(
    engine: Engine, keys: tuple[Any, Any], receiver: Receiver
) -> None:
    cipher, _ = keys
    policy = RetryPolicy(
        max_attempts=3, timeout=0.5, backoff=0.01, backoff_max=0.02, destinations=LOCAL
    )
    with transaction(engine) as session:
        _endpoint, receiver.secret = feedback.add_endpoint(
            session, SYSTEM, receiver.url, cipher, topics=["case.closed"], destinations=LOCAL
        )
        emit(session, "visit.verdict", "1", {}, now=CLOCK.now())  # not subscribed: no delivery
        event_id = emit(session, "case.closed", "1", {"case_id": 1}, now=CLOCK.now())
    receiver.script = ["500"] * 3
    drain(engine, cipher, policy)
    manager = Actor("m", Role.MANAGER, user_id=None)
    with transaction(engine) as session:
        dead = feedback.dead_letters(session, manager)
        assert [(d.event_id, d.attempts, d.last_status) for d in dead] == [(event_id, 3, 500)]
        assert session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "webhook.dead")
        ).all() == ["webhook.dead"]
        with pytest.raises(DoorstepError):
            feedback.dead_letters(session, Actor("v", Role.VERIFIER))
        feedback.retry_dead(session, manager, dead[0].delivery_id, now=datetime.now(UTC))
        with pytest.raises(DoorstepError, match="not dead"):
            feedback.retry_dead(session, manager, dead[0].delivery_id, now=datetime.now(UTC))
    drain(engine, cipher, policy)
    assert receiver.acknowledged == [event_id]


def test_bad_endpoint_url_is_refused(engine: Engine, keys: tuple[Any, Any]) -> None:
    cipher, _ = keys
    with transaction(engine) as session:
        with pytest.raises(DoorstepError, match="url"):
            feedback.add_endpoint(session, SYSTEM, "ftp://lender.example/hook", cipher)
        with pytest.raises(DoorstepError, match="topics"):
            feedback.add_endpoint(
                session, SYSTEM, "https://x.example/h", cipher, topics=["x"], destinations=LOCAL
            )


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite: one worker
def test_concurrent_workers_share_the_queue(
    engine: Engine, keys: tuple[Any, Any], receiver: Receiver
) -> None:
    """Several workers need FOR UPDATE SKIP LOCKED: PostgreSQL only (run one on SQLite)."""
    cipher, _ = keys
    with transaction(engine) as session:
        _endpoint, receiver.secret = feedback.add_endpoint(
            session, SYSTEM, receiver.url, cipher, destinations=LOCAL
        )
        ids = [emit(session, "visit.verdict", str(i), {"i": i}, now=CLOCK.now()) for i in range(40)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                deliver_due(engine, cipher, FAST, clock=CLOCK, batch=5)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Counter(receiver.acknowledged) == Counter(ids)
