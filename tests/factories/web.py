"""The app over a test database, and signing in to its pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from doorstep.app import create_app
from doorstep.config import Settings
from tests.factories.book import TEST_DATA_KEY, TEST_KEYS, TEST_LOOKUP_KEY
from tests.factories.people import CHEAP_HASHER, PASSWORD
from tests.factories.world import World


def make_app(
    engine: Engine,
    world: World | None,
    tmp_path: Path,
    *,
    password_hasher: PasswordHasher = CHEAP_HASHER,
    **settings: Any,
) -> FastAPI:
    """The app on `engine` (already migrated), with the world's personal-data keys; its
    files under tmp_path/var unless `var_dir` is given; other `settings` as given."""
    settings.setdefault("var_dir", tmp_path / "var")
    if world is not None and world.cipher is TEST_KEYS[0]:  # the batch it runs reads them too
        settings.setdefault("data_keys", TEST_DATA_KEY)
        settings.setdefault("lookup_key", TEST_LOOKUP_KEY)
    app = create_app(
        Settings(**settings), engine=engine, migrate_schema=False, password_hasher=password_hasher
    )
    if world is not None:
        app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    return app


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
