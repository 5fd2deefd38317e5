"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every `db` test,
the small world over it, and the app serving it.

Databases are migrated once per worker process and backend (tests/factories/databases.py):
each test gets a copy of the migrated SQLite file, or the worker's PostgreSQL schema
emptied after the previous test. PostgreSQL comes from DOORSTEP_TEST_POSTGRES_URL
(default: the local server, database `test`).

A missing service or tool (PostgreSQL, Redis, chromium, poppler...) skips the tests that
need it, and the summary says so; with DOORSTEP_CI=1 (.ci/run) every such skip is a
failure instead. Only the tests that need ../shared/ (absent from a user's clone) may
skip there.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from doorstep.services.conduct import audit
from doorstep.store.db import make_engine
from tests.factories import databases
from tests.factories.audit import AUDIT_KEY, AUDIT_KEYS
from tests.factories.databases import POSTGRES_URL, postgres_problem
from tests.factories.people import CHEAP_HASHER
from tests.factories.plans import ITERATIONS as PLAN_ITERATIONS
from tests.factories.web import make_app
from tests.factories.world import World, build_world

__all__ = ["POSTGRES_URL", "SHARED", "_postgres_problem", "_postgres_reachable"]

SHARED = Path(__file__).resolve().parents[2] / "shared"
CI = os.environ.get("DOORSTEP_CI", "") not in ("", "0")
_postgres_problem: list[str] = []
"""Why PostgreSQL is unreachable (filled by `_postgres_reachable`), for skip reasons."""


def _postgres_reachable() -> bool:
    problem = postgres_problem()
    if problem and not _postgres_problem:
        _postgres_problem.append(problem)
    return problem is None


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated, empty database, one per test, on each backend."""
    database: databases.TestDatabase
    if request.param == "sqlite":
        database = databases.sqlite_database(tmp_path / "doorstep.db")
    else:
        if not _postgres_reachable():
            pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {_postgres_problem[0]}")
        database = databases.postgres_database()
    try:
        yield database.engine
    finally:
        database.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The worker's PostgreSQL schema, migrated and empty, as a URL that another process
    can use; emptied after the test like the `engine` fixture's."""
    if not _postgres_reachable():
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {_postgres_problem[0]}")
    database = databases.postgres_database()
    try:
        yield databases.url_of(database.engine)
    finally:
        database.close()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session in a transaction that is rolled back after the test, for service tests
    that need no real commit: the service's own commits become savepoints (SQLAlchemy's
    "joining a session into an external transaction"), so nothing is left to clean."""
    bound = engine
    if engine.dialect.name == "sqlite":  # pysqlite needs SQLAlchemy's recipe for SAVEPOINT
        bound = make_engine(engine.url.render_as_string(hide_password=False))
        event.listen(bound, "connect", _sqlite_no_implicit_transactions)
        event.listen(bound, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
        audit.use_keys(bound, AUDIT_KEYS)
    with bound.connect() as connection:
        outer = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            outer.rollback()
    if bound is not engine:
        bound.dispose()


def _sqlite_no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see above)


@pytest.fixture(scope="session", autouse=True)
def _test_databases() -> Iterator[None]:
    """Drop this worker's PostgreSQL schemas and template files at the end."""
    yield
    databases.drop_everything()


@pytest.fixture(scope="session")
def keys() -> tuple[object, object]:
    """(cipher, hasher) for personal data in tests: the worker's `TEST_KEYS`."""
    from tests.factories.book import TEST_KEYS

    return TEST_KEYS


@pytest.fixture(scope="session")
def password_hasher() -> PasswordHasher:
    """Argon2 at its lowest cost: the tests check behaviour, not cost (the real one takes
    ~0.4 s a hash here)."""
    return CHEAP_HASHER


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world (tests/factories/world.py) in this test's database."""
    return build_world(engine, tmp_path, keys)


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path, password_hasher: PasswordHasher) -> FastAPI:
    """The app over the world's database, its keys and the cheap password hasher."""
    return make_app(engine, world, tmp_path, password_hasher=password_hasher)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(autouse=True)
def _plans_bounded_by_iterations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plan a test makes through `Settings` (the batch, the pages, the command, and
    the processes they start) stops after PLAN_ITERATIONS iterations, well before its time
    budget: the same plan on a busy machine, in a fraction of a second."""
    monkeypatch.setenv("DOORSTEP_PLAN_ITERATIONS", str(PLAN_ITERATIONS))


@pytest.fixture(autouse=True)
def _audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `Settings` a test builds signs the audit trail with the test databases' key
    (tests/factories/audit.py), so what a command or a started process writes verifies
    together with what the test wrote."""
    monkeypatch.setenv("DOORSTEP_AUDIT_KEY", AUDIT_KEY)


@pytest.fixture(autouse=True)
def _data_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `Settings` a test builds (and every command or process it starts) seals and
    opens personal data with the worker's test keys, the `keys` fixture's: what the world
    sealed, a command reads. A test of where keys come from sets its own."""
    from tests.factories.book import TEST_DATA_KEY, TEST_LOOKUP_KEY

    monkeypatch.setenv("DOORSTEP_DATA_KEYS", TEST_DATA_KEY)
    monkeypatch.setenv("DOORSTEP_LOOKUP_KEY", TEST_LOOKUP_KEY)


def _allowed_skip(reason: str) -> bool:
    """Skips CI accepts: tests whose data lives in ../shared/, which a clone lacks."""
    return str(SHARED) in reason


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under DOORSTEP_CI a skip (a missing service or tool) is reported as a failure."""
    report = yield
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not _allowed_skip(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped in CI (DOORSTEP_CI=1), where nothing may be: {reason}"
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_problem:
        terminalreporter.write_sep(
            "!",
            f"PostgreSQL tests SKIPPED: {POSTGRES_URL} unreachable ({_postgres_problem[0]})",
            red=True,
        )
    if not SHARED.exists():
        terminalreporter.write_sep(
            "!", f"tests needing ../shared/ SKIPPED: {SHARED} absent", yellow=True
        )
