"""Webhook URLs (SSRF): https to public addresses only, checked for every address the
host resolves to, when the endpoint is registered and again at each delivery (a name may
point elsewhere later), the delivery connecting to the address it checked and following
no redirect; `DOORSTEP_WEBHOOK_ALLOW_PRIVATE` lifts the checks for tests and development.
Names are resolved by a stand-in resolver, so no test needs the internet. SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import InvalidValue
from doorstep.domain.ports import SystemClock
from doorstep.integrations.destinations import refused_address
from doorstep.services.batch.daily import webhook_retry_policy
from doorstep.services.lender import feedback
from doorstep.services.lender.feedback import Destinations, RetryPolicy, deliver_due
from doorstep.services.outbox import emit
from doorstep.store.db import transaction
from doorstep.store.models import WebhookDelivery, WebhookEndpoint

PUBLIC = "93.184.215.14"


def resolver(table: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise OSError(f"no such host {host}")

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    ],
)  # fmt: skip
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None
    assert refused_address(PUBLIC) is None and refused_address("2606:4700::1111") is None


@pytest.mark.db
def test_registration_refuses_http_and_private_or_mixed_resolutions(
    engine: Engine, keys: tuple[Any, Any]
) -> None:
    cipher, _ = keys
    names = {
        "lender.example": [PUBLIC],
        "inside.example": ["10.0.0.7"],
        "mixed.example": [PUBLIC, "127.0.0.1"],  # every address counts, not the first
        "metadata.example": ["169.254.169.254"],
    }
    strict = Destinations(resolve=resolver(names))
    refused = {
        "http://lender.example/hook": "not an https URL",
        "https://inside.example/hook": "private address",
        "https://mixed.example/hook": "loopback address",
        "https://metadata.example/latest": "link-local address",
        "https://127.0.0.1/hook": "loopback address",
        "https://[::1]/hook": "loopback address",
        "https://nowhere.example/hook": "cannot be resolved",
        "ftp://lender.example/hook": "not an https URL",
        "https:///hook": "not an https URL",
    }
    with transaction(engine) as session:
        for url, why in refused.items():
            with pytest.raises(InvalidValue, match=why) as error:
                feedback.add_endpoint(session, SYSTEM, url, cipher, destinations=strict)
            assert error.value.message_zh.startswith("url：")
        endpoint, _ = feedback.add_endpoint(
            session, SYSTEM, "https://lender.example/hook", cipher, destinations=strict
        )
        assert [e.url for e in session.scalars(select(WebhookEndpoint))] == [endpoint.url]
        # the operator's setting lets tests and development use a local receiver
        local = Destinations(allow_private=True, resolve=resolver(names))
        feedback.add_endpoint(
            session, SYSTEM, "http://127.0.0.1:9/hook", cipher, destinations=local
        )
    assert webhook_retry_policy(Settings()).destinations.allow_private is False
    allowed = Settings(webhook_allow_private=True)
    assert webhook_retry_policy(allowed).destinations.allow_private is True


@dataclass
class Listener:
    url_port: int = 0
    hosts: list[str] = field(default_factory=list)
    answer: int = 200


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.hosts.append(self.headers["Host"])
            self.send_response(state.answer)
            if state.answer == 302:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url_port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _deliver(engine: Engine, cipher: Any, destinations: Destinations) -> WebhookDelivery:
    policy = RetryPolicy(max_attempts=1, timeout=2, destinations=destinations)
    deliver_due(engine, cipher, policy, clock=SystemClock())
    with transaction(engine) as session:
        [row] = session.scalars(select(WebhookDelivery)).all()
        session.expunge(row)
        return row


@pytest.mark.db
def test_a_name_that_now_resolves_inside_is_not_called_at_delivery(
    engine: Engine, keys: tuple[Any, Any], listener: Listener
) -> None:
    """Registered while public; the name now points at the server's own loopback, where
    something listens: nothing is sent there, the attempt fails saying why."""
    cipher, _ = keys
    url = f"https://lender.example:{listener.url_port}/hook"
    with transaction(engine) as session:
        then = Destinations(resolve=resolver({"lender.example": [PUBLIC]}))
        feedback.add_endpoint(session, SYSTEM, url, cipher, destinations=then)
        emit(session, "case.closed", "1", {"case_id": 1}, now=SystemClock().now())
    now = Destinations(resolve=resolver({"lender.example": ["127.0.0.1"]}))
    row = _deliver(engine, cipher, now)
    assert row.state == "dead" and row.last_status is None
    assert row.last_error is not None and "refused destination" in row.last_error
    assert "loopback" in row.last_error
    assert listener.hosts == []


@pytest.mark.db
def test_delivery_connects_to_the_checked_address_and_follows_no_redirect(
    engine: Engine, keys: tuple[Any, Any], listener: Listener
) -> None:
    """Allowed private (as in development): the request goes to the address the check
    resolved, with the URL's name as Host; a redirect is a failed attempt, not followed."""
    cipher, _ = keys
    local = Destinations(allow_private=True, resolve=resolver({"lender.test": ["127.0.0.1"]}))
    url = f"http://lender.test:{listener.url_port}/hook"
    listener.answer = 302
    with transaction(engine) as session:
        feedback.add_endpoint(session, SYSTEM, url, cipher, destinations=local)
        emit(session, "case.closed", "1", {"case_id": 1}, now=SystemClock().now())
    row = _deliver(engine, cipher, local)
    assert listener.hosts == [f"lender.test:{listener.url_port}"]  # once: not followed
    assert (row.state, row.last_status, row.last_error) == ("dead", 302, "HTTP 302")
