"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every `db` test.

PostgreSQL comes from DOORSTEP_TEST_POSTGRES_URL (default: the local server, database
`test`). When it is unreachable the PostgreSQL half is skipped, and the summary says so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from doorstep.store import migrate
from doorstep.store.db import make_engine

POSTGRES_URL = os.environ.get(
    "DOORSTEP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SHARED = Path(__file__).resolve().parents[2] / "shared"
_postgres_problem: list[str] = []


def _postgres_reachable() -> bool:
    if _postgres_problem:
        return False
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception as exc:  # any driver error means: not here
        _postgres_problem.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated database, one per test, on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'doorstep.db'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    if not _postgres_reachable():
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {_postgres_problem[0]}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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


@pytest.fixture(scope="session")
def keys() -> tuple[object, object]:
    """(cipher, hasher) for personal data in tests."""
    from tests.factories.book import make_keys

    return make_keys()


@pytest.fixture(autouse=True)
def _no_outbox_relay_left() -> Iterator[None]:
    """A test (or a command it ran) that installed the outbox relay leaves none behind:
    later tests in the same process would publish to a broker they never asked for."""
    yield
    from doorstep.services.lender import outbox

    outbox.set_publisher(None)
