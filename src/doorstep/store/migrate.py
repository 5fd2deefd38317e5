"""Schema migrations with Alembic, run from code so the CLI and tests share one path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Processes starting together (web, workers, the
    batch) take turns on PostgreSQL: the first migrates, the others then find the schema
    current (without the lock two would both create the version table, and one fail)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            key = "hashtext('doorstep.migrate.' || current_schema())"
            connection.execute(text(f"SELECT pg_advisory_xact_lock({key})"))
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the models' difference to the database (developer use)."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
