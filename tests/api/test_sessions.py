"""Staff sessions live on the server: a copy of the cookie taken before sign-out, a
password change, disabling the user or the idle timeout is refused afterwards (401 from
the API, back to the sign-in page with the reason from a page); the cookie is an opaque
id stored hashed, and the CSRF token belongs to its session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from doorstep.domain.access import SYSTEM
from doorstep.domain.ports import FixedClock
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import ApiToken, User, UserSession
from tests.factories.people import CHEAP_HASHER, PASSWORD, bearer
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import World

pytestmark = pytest.mark.db

COOKIE = "doorstep_session"
START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
PAGE = {"Accept": "text/html"}


@pytest.fixture
def copy(app: FastAPI) -> Iterator[TestClient]:
    """A second browser, for the copied cookie."""
    with TestClient(app) as other:
        yield other


def stolen(client: TestClient, copy: TestClient) -> str:
    """Copy the signed-in browser's session cookie into `copy`; the CSRF token its pages
    carry (what an attacker holding the cookie would read from a page)."""
    copy.cookies.set(COOKIE, client.cookies[COOKIE])
    page = copy.get("/cases")
    assert page.status_code == 200
    return csrf_of(page.text)


def reveal(client: TestClient, case_id: int, token: str) -> Any:
    return client.post(
        f"/api/cases/{case_id}/reveal",
        json={"field": "id_number", "purpose": "contact_verification", "reason": "call back"},
        headers={"X-CSRF-Token": token},
    )


def refused_everywhere(copy: TestClient, case_id: int, token: str, code: str) -> None:
    """The copied cookie gets 401 `code` from the API, reveals included, and a page sends
    it to sign in again, saying why."""
    me = copy.get("/api/me")
    assert me.status_code == 401 and me.json()["code"] == code, me.text
    assert reveal(copy, case_id, token).status_code == 401
    page = copy.get("/cases", headers=PAGE, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=/cases&why={code}"


def test_a_cookie_copied_before_sign_out_is_refused_after_it(
    world: World, client: TestClient, copy: TestClient
) -> None:
    sign_in(client, "manager")
    token = stolen(client, copy)
    assert copy.get("/api/me").json()["username"] == "manager"
    assert reveal(copy, world.other_case, token).status_code == 200  # the copy works...
    out = client.post("/logout", data={"csrf_token": csrf_of(client.get("/cases").text)})
    assert out.status_code == 200 and COOKIE not in client.cookies
    refused_everywhere(copy, world.other_case, token, "session_ended")  # ...until sign-out
    words = copy.get("/login?next=/cases&why=session_ended").text
    assert "您已被登出（在别处退出，或密码、账号已更改），请重新登录。" in words
    copy.cookies.set("lang", "en")
    english = copy.get("/login?next=/cases&why=session_ended").text
    assert "You were signed out: elsewhere, or your password or account changed." in english


def test_a_password_change_ends_every_session_of_the_user(
    world: World, app: FastAPI, client: TestClient, copy: TestClient, engine: Engine
) -> None:
    sign_in(client, "manager")
    token = stolen(client, copy)  # the same session as `client`: the same CSRF token
    with TestClient(app) as other_browser:
        other_token = sign_in(other_browser, "manager")
        with transaction(engine) as session:
            users.change_password(
                session,
                SYSTEM,
                "manager",
                "a brand new password",
                hasher=CHEAP_HASHER,
                now=datetime.now(UTC),
            )
        for browser, its_token in ((client, token), (copy, token), (other_browser, other_token)):
            refused_everywhere(browser, world.other_case, its_token, "session_ended")
        sign_in(other_browser, "manager", "a brand new password")
        assert other_browser.get("/api/me").status_code == 200


def test_disabling_a_user_ends_a_copied_cookie(
    world: World, client: TestClient, copy: TestClient, engine: Engine
) -> None:
    sign_in(client, "manager")
    token = stolen(client, copy)
    with transaction(engine) as session:
        users.set_active(session, SYSTEM, "manager", False, now=datetime.now(UTC))
    refused_everywhere(copy, world.other_case, token, "session_ended")


def at(app: FastAPI, moment: datetime) -> None:
    app.state.doorstep.clock = FixedClock(moment)


def test_an_idle_session_expires_and_a_busy_one_at_its_lifetime(
    world: World, app: FastAPI, client: TestClient, copy: TestClient
) -> None:
    """Defaults: 30 minutes idle, 12 hours in all."""
    at(app, START)
    sign_in(client, "manager")
    token = stolen(client, copy)
    at(app, START + timedelta(minutes=29))
    assert client.get("/api/me").status_code == 200  # within the idle time: moves it on
    at(app, START + timedelta(minutes=58))
    assert client.get("/api/me").status_code == 200
    at(app, START + timedelta(minutes=88))  # 30 minutes after the last request
    refused_everywhere(copy, world.other_case, token, "session_expired")
    assert "会话已过期，请重新登录。" in copy.get("/login?why=session_expired").text

    at(app, START + timedelta(hours=1))
    sign_in(client, "manager")
    for minutes in range(20, 12 * 60, 20):  # busy all day: a request every 20 minutes
        at(app, START + timedelta(hours=1, minutes=minutes))
        assert client.get("/api/me").status_code == 200, minutes
    at(app, START + timedelta(hours=13))  # 12 hours after signing in
    assert client.get("/api/me").json()["code"] == "session_expired"


def test_the_cookie_is_an_opaque_id_stored_hashed(
    world: World, client: TestClient, engine: Engine
) -> None:
    sign_in(client, "manager")
    cookie = client.cookies[COOKIE]
    assert len(cookie) >= 43 and "." not in cookie and "manager" not in cookie
    with transaction(engine) as session:
        rows = session.scalars(select(UserSession)).all()
        assert [r.id_hash for r in rows] == [hashlib.sha256(cookie.encode()).hexdigest()]
    assert not database_holds(engine, cookie)


def test_the_csrf_token_belongs_to_its_session(
    world: World, app: FastAPI, client: TestClient
) -> None:
    body = {"action": "hold", "hold_reason": "complaint", "reason": "complaint by phone"}
    path = f"/api/cases/{world.other_case}/actions"
    first = sign_in(client, "manager")
    with TestClient(app) as other:
        mine = sign_in(other, "admin")
        assert mine != first
        refused = other.post(path, json=body, headers={"X-CSRF-Token": first})
        assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    again = sign_in(client, "manager")  # a new session: a new token, the old one is dead
    assert again != first
    assert client.post(path, json=body, headers={"X-CSRF-Token": first}).status_code == 403
    assert client.post(path, json=body, headers={"X-CSRF-Token": again}).status_code == 200


def database_holds(engine: Engine, secret: str) -> list[str]:
    """Every text column of every row that contains `secret`."""
    found = []
    with engine.connect() as connection:
        for table in ("user_sessions", "api_tokens", "users", "audit_events", "throttles"):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                found += [f"{table}: {v}" for v in row if isinstance(v, str) and secret in v]
    return found


def test_passwords_are_argon2_hashes_and_tokens_are_stored_hashed(
    world: World, engine: Engine
) -> None:
    header = bearer(engine, "admin")["Authorization"]
    token = header.removeprefix("Bearer ")
    with transaction(engine) as session:
        stored = session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        hashes = session.scalars(select(User.password_hash)).all()
        assert hashes and all(h.startswith("$argon2id$") for h in hashes)
        user = session.scalars(select(User).where(User.username == "admin")).one()
        assert CHEAP_HASHER.verify(user.password_hash, PASSWORD)
    assert not database_holds(engine, token) and not database_holds(engine, PASSWORD)
