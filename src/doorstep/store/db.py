"""Engine, sessions and the one place a transaction is opened and committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL
    the pool settings below (pre-ping: reconnects after a server restart)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool = SQLITE_POOL
        engine = create_engine(url, connect_args={"timeout": 30}, **{**pool, **kwargs})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, **{**POSTGRES_POOL, **kwargs})


SQLITE_POOL: dict[str, Any] = {
    # As many connections as uvicorn's thread pool runs requests (40): a request never
    # waits for a connection, only for SQLite's write lock (the busy timeout above).
    "pool_size": 10,
    "max_overflow": 30,
}
"""For database files; an in-memory database keeps SQLAlchemy's own pool."""

POSTGRES_POOL: dict[str, Any] = {
    # A connection the server dropped (restart, failover, idle timeout, pg_terminate_backend)
    # is found by a cheap ping at checkout and replaced: the next request succeeds without
    # an operator. A request already running on it fails once.
    "pool_pre_ping": True,
    # Per process: 10 kept + 10 overflow, so that several web processes and the batch
    # workers stay under PostgreSQL's default max_connections of 100 (docs/deployment.md);
    # past 20 requests in the database at once a request waits up to 30 s for a connection.
    "pool_size": 10,
    "max_overflow": 10,
    "pool_timeout": 30,
    # Replace connections after 30 minutes: a proxy or firewall that silently drops idle
    # TCP connections never hands the pool a dead one.
    "pool_recycle": 1800,
    "pool_use_lifo": True,  # keep the fewest connections warm; idle ones age out
}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """The unit of work of an entry point: commits on success, rolls back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def undo_on_rollback(session: Session, undo: Callable[[], None]) -> None:
    """Call `undo` if the session's transaction rolls back, and forget it if it commits:
    for what a transaction did outside the database (files written for its rows), so a
    failed unit of work leaves nothing behind. (The listeners stay on the session, spent:
    removing one while the session runs it is not allowed.)"""
    pending = [undo]

    def committed(_session: Session) -> None:
        pending.clear()

    def rolled_back(_session: Session) -> None:
        while pending:
            pending.pop()()

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_rollback", rolled_back)
