"""Fixtures for the API tests: the small world, the app over it, and ways to sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import Case, User
from tests.factories.world import ANYTIME_RULES, PASSWORD, World, build_world

__all__ = ["PASSWORD", "bearer", "set_state", "sign_in"]

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Argon2 at its default cost takes ~0.4 s a hash here; the tests check behaviour, not cost."""


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", CHEAP_HASHER)


@pytest.fixture(autouse=True)
def _any_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(ANYTIME_RULES))


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    return build_world(engine, tmp_path, keys)


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path) -> FastAPI:
    app = create_app(Settings(var_dir=tmp_path / "var"), engine=engine, migrate_schema=False)
    app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def bearer(engine: Engine, username: str) -> dict[str, str]:
    """Authorization headers with a fresh API token for `username`."""
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        token = users.issue_token(session, SYSTEM, user, "tests")
    return {"Authorization": f"Bearer {token}"}


def set_state(engine: Engine, case_id: int, state: str) -> int:
    """Put a case in `state` (no hold) whatever selection made of it; its version."""
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.state, case.hold_reason = state, None
        session.flush()
        return case.version


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token a page carries (the hidden input, or htmx's hx-headers on <body>)."""
    found = CSRF_INPUT.search(page) or CSRF_HEADER.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login page; the CSRF token for later unsafe requests."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/cases").text)
