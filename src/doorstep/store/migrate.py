"""Schema migrations with Alembic, run from code so the CLI and tests share one path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head", *, keys: tuple[Any, Any] | None = None) -> None:
    """Bring the schema to `revision`. Processes starting together (web, workers, the
    batch) take turns on PostgreSQL: the first migrates, the others then find the schema
    current (without the lock two would both create the version table, and one fail).
    `keys` (the personal-data cipher and lookup hasher) are for revisions that encrypt
    stored values: one that finds values to encrypt and has no keys stops with a message."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            key = "hashtext('doorstep.migrate.' || current_schema())"
            connection.execute(text(f"SELECT pg_advisory_xact_lock({key})"))
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        config.attributes["keys"] = keys
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, *, keys: tuple[Any, Any] | None = None) -> None:
    """Take the schema back to `revision` (tests of a migration; an operator's rollback)."""
    with engine.begin() as connection:
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
