"""Schema migrations with Alembic, run from code so the CLI and tests share one path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection whose migration steps all commit together or not at all. Python's
    SQLite driver opens a transaction only before a row change and runs DDL in autocommit:
    a migration refused halfway (e.g. for want of the keys) would keep the tables and
    indexes it had already dropped. There the transaction is begun explicitly, so SQLite
    undoes the DDL too, as PostgreSQL does."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                yield connection
            return
        driver: Any = connection.connection.driver_connection
        level = driver.isolation_level
        driver.isolation_level = None  # the driver's own transaction handling off
        try:
            with connection.begin():
                connection.exec_driver_sql("BEGIN")
                yield connection
        finally:
            driver.isolation_level = level


def upgrade(engine: Engine, revision: str = "head", *, keys: tuple[Any, Any] | None = None) -> None:
    """Bring the schema to `revision`. Processes starting together (web, workers, the
    batch) take turns on PostgreSQL: the first migrates, the others then find the schema
    current (without the lock two would both create the version table, and one fail).
    `keys` (the personal-data cipher and lookup hasher) are for revisions that encrypt
    stored values: one that finds values to encrypt and has no keys stops with a message."""
    with _one_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            key = "hashtext('doorstep.migrate.' || current_schema())"
            connection.execute(text(f"SELECT pg_advisory_xact_lock({key})"))
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        config.attributes["keys"] = keys
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, *, keys: tuple[Any, Any] | None = None) -> None:
    """Take the schema back to `revision` (tests of a migration; an operator's rollback)."""
    with _one_transaction(engine) as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        config.attributes["keys"] = keys
        command.downgrade(config, revision)


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the models' difference to the database (developer use)."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
