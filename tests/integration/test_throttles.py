"""Guessing is slowed down however the guesses are sent: attempts sent at once through the
app are checked at most as often as the limit (staff passwords, portal codes); the client
address is the connection's unless a trusted proxy says otherwise; the back-off grows and
lapses, and an administrator can lift it."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from doorstep.cli.main import app as cli
from doorstep.domain.credentials import ACCOUNT_BACKOFF
from doorstep.domain.ports import FixedClock
from doorstep.integrations.sms import LogSender
from doorstep.store.db import transaction
from doorstep.store.models import PortalCode, Throttle
from doorstep.store.repositories import throttles
from tests.factories.databases import url_of
from tests.factories.people import PASSWORD
from tests.factories.web import csrf_of, make_app
from tests.factories.world import World
from tests.integration.test_offers_web import borrower_of

pytestmark = pytest.mark.db

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


class CountingHasher(PasswordHasher):
    """Argon2 at the tests' cost, counting the passwords it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.checks += 1
        return super().verify(hash, password)


def at_once(count: int, send: Callable[[int], Any]) -> list[Any]:
    """`send(n)` for n in range(count), from `count` threads released together."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        answers[n] = send(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def login(client: TestClient, username: str, password: str, **headers: str) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def test_thirty_wrong_passwords_at_once_are_checked_at_most_five_times(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    hasher = CountingHasher()
    app = make_app(engine, world, tmp_path, password_hasher=hasher)
    app.state.doorstep.clock = FixedClock(START)
    with TestClient(app) as client:
        token = csrf_of(client.get("/login").text)
        answers = at_once(
            30,
            lambda n: client.post(
                "/login",
                data={"username": "admin", "password": f"guess {n}", "csrf_token": token},
                follow_redirects=False,
            ),
        )
        assert hasher.checks == 5
        assert sorted(a.status_code for a in answers) == [401] * 5 + [429] * 25
        assert (
            "尝试次数过多，请 1 分钟后再试"
            in answers[[a.status_code for a in answers].index(429)].text
        )
        assert login(client, "auditor", PASSWORD).status_code == 303  # the address is not locked
        assert login(client, "admin", PASSWORD).status_code == 429
        app.state.doorstep.clock = FixedClock(START + timedelta(minutes=1))
        assert login(client, "admin", PASSWORD).status_code == 303  # the owner, once it lapses
    assert hasher.checks == 5 + 2


def ask_code(client: TestClient, loan_id: str, mobile: str) -> Any:
    token = csrf_of(client.get("/portal/sign-in").text)
    return client.post(
        "/portal/code", data={"loan_id": loan_id, "mobile": mobile, "csrf_token": token}
    )


def test_forty_portal_codes_at_once_are_compared_at_most_five_times(
    world: World, app: FastAPI, client: TestClient, engine: Engine
) -> None:
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    sender = LogSender(keep=5)
    app.state.portal_sms = sender
    assert ask_code(client, loan_id, mobile).status_code == 200
    found = re.search(r"(\d{6})", sender.recent()[0].text)
    assert found is not None
    code = found.group(1)
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 41)]
    token = csrf_of(client.get("/portal/sign-in").text)
    answers = at_once(
        40,
        lambda n: client.post(
            "/portal/verify", data={"loan_id": loan_id, "code": wrong[n], "csrf_token": token}
        ),
    )
    compared = [a for a in answers if "验证码错误，还可尝试" in a.text]
    assert len(compared) == 5
    assert all(a.status_code == 401 for a in answers)
    with transaction(engine) as session:
        assert session.scalars(select(PortalCode.tries)).one() == 5
    right = client.post(
        "/portal/verify", data={"loan_id": loan_id, "code": code, "csrf_token": token}
    )
    assert right.status_code == 401 and "验证码错误次数过多" in right.text  # the code is spent


def test_a_fourth_portal_code_waits_for_the_minutes_the_rule_says(
    world: World, app: FastAPI, client: TestClient, engine: Engine
) -> None:
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    app.state.portal_sms = LogSender(keep=5)
    app.state.doorstep.clock = FixedClock(START)
    assert [ask_code(client, loan_id, mobile).status_code for _ in range(3)] == [200] * 3
    app.state.doorstep.clock = FixedClock(START + timedelta(minutes=1))
    refused = ask_code(client, loan_id, mobile)
    assert refused.status_code == 429 and "尝试次数过多，请 14 分钟后再试" in refused.text
    client.cookies.set("lang", "en")
    assert "too many attempts: try again in 14 minutes" in ask_code(client, loan_id, mobile).text
    app.state.doorstep.clock = FixedClock(START + timedelta(minutes=15))
    assert ask_code(client, loan_id, mobile).status_code == 200


def address_keys(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        rows = session.scalars(select(Throttle).where(Throttle.key.like("login:address:%")))
        return {r.key.removeprefix("login:address:"): r.attempts for r in rows}


def test_x_forwarded_for_is_ignored_from_an_untrusted_client(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    """Twenty wrong guesses, each claiming another address, lock the real one."""
    app = make_app(engine, world, tmp_path)
    with TestClient(app, client=("203.0.113.9", 40000)) as client:
        for n in range(20):  # one guess per account: no account is locked
            spoof = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert login(client, f"nobody{n}", "guess", **spoof).status_code == 401
        assert address_keys(engine) == {"203.0.113.9": 20}
        locked = login(client, "auditor", PASSWORD, **{"X-Forwarded-For": "198.51.100.99"})
        assert locked.status_code == 429


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    """Behind the proxy each client is its own address; what a client writes to the left
    of what the proxy appended is not believed."""
    app = make_app(engine, world, tmp_path, trusted_proxies="10.0.0.0/8, 192.0.2.7")
    with TestClient(app, client=("10.1.2.3", 40000)) as client:
        for n in range(25):
            forwarded = {"X-Forwarded-For": f"203.0.113.200, 198.51.100.{n}, 192.0.2.7"}
            assert login(client, f"nobody{n}", "guess", **forwarded).status_code == 401
        assert login(client, "nobody", "guess").status_code == 401  # no header: the proxy
        assert address_keys(engine) == {
            **{f"198.51.100.{n}": 1 for n in range(25)},
            "10.1.2.3": 1,
        }
        assert login(client, "auditor", PASSWORD, **{"X-Forwarded-For": "x"}).status_code == 303


def test_the_back_off_doubles_up_to_its_longest_and_is_forgotten_later(engine: Engine) -> None:
    """Counted and judged by the repository on each backend: locks of 1, 2, 4 ... 60
    minutes after the 5th, 6th, 7th ... attempt; a day without attempts starts again."""
    key, now, locks = "login:account:someone", START, []
    with transaction(engine) as session:
        for _ in range(4):
            assert throttles.claim(session, key, ACCOUNT_BACKOFF, now) is None
        for _ in range(9):
            assert throttles.claim(session, key, ACCOUNT_BACKOFF, now) is None  # counted...
            until = throttles.claim(session, key, ACCOUNT_BACKOFF, now)  # ...then locked
            assert until is not None
            locks.append(until - now)
            now = until
        assert locks == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
        later = now + timedelta(hours=24)
        for _ in range(4):  # forgotten: four more before the fifth locks again
            assert throttles.claim(session, key, ACCOUNT_BACKOFF, later) is None
        assert throttles.claim(session, key, ACCOUNT_BACKOFF, later) is None
        assert throttles.claim(session, key, ACCOUNT_BACKOFF, later) == later + timedelta(minutes=1)


def test_an_administrator_lifts_the_lock(
    world: World, app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        assert login(client, "manager", "wrong password!").status_code == 401
    assert login(client, "manager", PASSWORD).status_code == 429
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    result = CliRunner().invoke(cli, ["users", "unlock", "manager"])
    assert result.exit_code == 0 and "unlocked manager" in result.output, result.output
    assert login(client, "manager", PASSWORD).status_code == 303
    again = CliRunner().invoke(cli, ["users", "unlock", "manager"])
    assert "manager was not locked" in again.output
