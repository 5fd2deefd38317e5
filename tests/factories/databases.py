"""Test databases: migrated once per worker process and backend, handed to each test clean.

SQLite: the migrated file is a template; each test gets a copy (a few milliseconds instead
of running every migration). PostgreSQL: one migrated schema per worker; after each test
the tables that hold rows are emptied and the sequences that moved restart, so the next
test finds an empty, freshly numbered database; a test that changed the schema itself (a
downgrade, a new table) gets the schema rebuilt. Under pytest-xdist each worker is its
own process, so "per process" below is "per worker".

Snapshots: a fixture that builds an expensive state (the small world) saves it once per
process (`save`) and later tests `load` it into their own empty database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine, text

from doorstep.services.conduct import audit
from doorstep.store import migrate
from doorstep.store.db import make_engine
from tests.factories.audit import AUDIT_KEYS

POSTGRES_URL = os.environ.get(
    "DOORSTEP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
KEEP = ("alembic_version",)
"""Tables a clean database keeps: the schema's own version."""


class TestDatabase(Protocol):
    """A migrated database one test owns (see the module docstring)."""

    engine: Engine

    def is_empty(self) -> bool: ...

    def save(self, name: str) -> None:
        """Keep the current contents as the snapshot `name` (of this process)."""

    def load(self, name: str) -> bool:
        """Replace the (empty) contents with the snapshot `name`; False when there is none."""

    def close(self) -> None: ...


_built: dict[tuple[str, str], object] = {}
T = TypeVar("T")
_DATABASE = "_doorstep_test_database"
"""The attribute of an engine that names its test database."""


def database_of(engine: Engine) -> TestDatabase | None:
    """The test database behind an engine made here (the `engine` fixture's), else None."""
    found: TestDatabase | None = getattr(engine, _DATABASE, None)
    return found


def url_of(engine: Engine) -> str:
    """A URL another process or a CLI command can use for this test's database: on
    PostgreSQL its schema, also as the connections' name (the reset after the test ends
    any that such a process left open)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": schema}
        )
    return url.render_as_string(hide_password=False)


def built_once(engine: Engine, name: str, build: Callable[[], T]) -> T:
    """What `build()` writes into an empty test database, built once per process and
    backend: later calls on an empty database load the saved copy instead and return what
    the first `build()` returned. Anywhere else (a database that is not empty, or not from
    the `engine` fixture), `build()` simply runs."""
    database = database_of(engine)
    if database is None or not database.is_empty():
        return build()
    key = (engine.dialect.name, name)
    if key in _built and database.load(name):
        return _built[key]  # type: ignore[return-value]
    made = build()
    database.save(name)
    _built[key] = made
    return made


# --- SQLite -------------------------------------------------------------------------------

_folder: list[Path] = []


def _templates() -> Path:
    if not _folder:
        _folder.append(Path(tempfile.mkdtemp(prefix=f"doorstep-templates-{WORKER}-")))
    return _folder[0]


def _migrated_template() -> Path:
    path = _templates() / "migrated.db"
    if not path.exists():
        building = path.with_suffix(".building")
        engine = make_engine(f"sqlite:///{building}")
        migrate.upgrade(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        building.rename(path)
    return path


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent whatever WAL state or connections either has."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_template(), path)
        self.path = path
        self.engine = make_engine(f"sqlite:///{path}")
        audit.use_keys(self.engine, AUDIT_KEYS)
        setattr(self.engine, _DATABASE, self)

    def is_empty(self) -> bool:
        with self.engine.connect() as connection:
            return _all_empty(connection, _sqlite_tables(connection))

    def save(self, name: str) -> None:
        _copy(self.path, _templates() / f"{name}.db")

    def load(self, name: str) -> bool:
        snapshot = _templates() / f"{name}.db"
        if not snapshot.exists():
            return False
        _copy(snapshot, self.path)
        return True

    def close(self) -> None:
        self.engine.dispose()


def sqlite_database(path: Path) -> SqliteDatabase:
    """A migrated SQLite database at `path` (a copy of this process's template)."""
    return SqliteDatabase(path)


def _sqlite_tables(connection: Connection) -> list[str]:
    rows = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [name for (name,) in rows if name not in KEEP]


def _all_empty(connection: Connection, tables: list[str]) -> bool:
    probe = " UNION ALL ".join(f'SELECT 1 WHERE EXISTS (SELECT 1 FROM "{t}")' for t in tables)
    return connection.exec_driver_sql(f"SELECT count(*) FROM ({probe}) AS rows_in").scalar() == 0


# --- PostgreSQL ---------------------------------------------------------------------------

_postgres_problem: list[str] = []


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here (checked once per process), or None."""
    if not _postgres_problem:
        try:
            engine = make_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _postgres_problem.append("")
        except Exception as exc:  # any driver error means: not here
            _postgres_problem.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
    return _postgres_problem[0] or None


MANY = 5000
"""Rows from which a table is truncated rather than deleted from."""
WAIT = "-clock_timeout=20s"
"""The reset waits this long for a lock before it fails loudly instead of hanging."""
FAST_COMMITS = "-csynchronous_commit=off"
"""A commit does not wait for its WAL to reach the disk: a crash of the test server may
lose the last commits, which no test needs; every commit saves an fsync on a busy disk."""

CHECK = """
WITH rels AS (
    SELECT oid, relname, relkind FROM pg_class WHERE relnamespace = CAST(:schema AS regnamespace)
)
SELECT
    (SELECT count(*) || ':' || coalesce(sum(hashtext(relname || relkind::text)), 0) FROM rels)
    || '/' || (SELECT count(*) || ':' || coalesce(sum(hashtext(r.relname || a.attname
            || a.attnum::text || a.atttypid::text || a.attnotnull::text)), 0)
        FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid
        WHERE r.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped)
    || '/' || (SELECT count(*) || ':' || coalesce(sum(hashtext(conname || contype::text)), 0)
        FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels))
    || '/' || (SELECT count(*) FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rels))
    || '/' || (SELECT coalesce(string_agg(version_num, ','), '') FROM alembic_version),
    (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE application_name = :app AND pid <> pg_backend_pid())
"""
"""What the schema looks like (relations, columns in order, constraints, triggers, version:
a test that changed it leaves another), and ending the connections a test left open."""


class PostgresWorkerSchema:
    """This process's migrated schema, reused by every test after a reset."""

    def __init__(self, slot: int) -> None:
        self.name = f"w_{WORKER}_{slot}_{uuid.uuid4().hex[:8]}"
        self.admin = make_engine(
            POSTGRES_URL,
            connect_args={"options": f"-csearch_path={self.name} {FAST_COMMITS} {WAIT}"},
            pool_size=1,
        )
        self.check_params = {"schema": self.name, "app": self.name}
        self.snapshots: dict[str, tuple[str, str]] = {}
        """Per name: the schema holding its tables, and the statements that copy them back
        (and set the sequences as they were)."""
        self._build()

    def _build(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        engine = self.engine()
        migrate.upgrade(engine)
        engine.dispose()
        with self.admin.connect() as connection:
            self.fingerprint = connection.execute(text(CHECK), self.check_params).one()[0]
            self.tables = [
                name
                for (name,) in connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": self.name}
                )
                if name not in KEEP
            ]
            self.order = _insert_order(connection, self.name)
        self.rows_probe = " UNION ALL ".join(
            f"SELECT '{t}', (SELECT count(*) FROM (SELECT FROM \"{t}\" LIMIT {MANY}) AS r)"
            for t in self.tables
        )
        self.restart_sequences = (
            "SELECT setval(oid, 1, false) FROM pg_class"  # the sequences that moved
            f" WHERE relnamespace = '{self.name}'::regnamespace AND CASE relkind"
            " WHEN 'S' THEN pg_sequence_last_value(oid) IS NOT NULL ELSE false END"
        )

    def engine(self) -> Engine:
        """A new engine on the schema; its connections carry the schema as their name, so
        the reset can end any a test left open."""
        return make_engine(
            POSTGRES_URL,
            connect_args={
                "options": f"-csearch_path={self.name} {FAST_COMMITS}",
                "application_name": self.name,
            },
        )

    def reset(self) -> None:
        """Empty every table, restart every sequence; rebuild a schema a test changed.
        Small tables are emptied with DELETE: TRUNCATE makes new files for each table and
        index, which costs far more on a busy disk; big ones (a test that loaded MANY
        rows or more) are truncated."""
        with self.admin.begin() as connection:
            shape, _ = connection.execute(text(CHECK), self.check_params).one()
            if shape == self.fingerprint:
                rows = self.rows(connection)
                big = [t for t, n in rows.items() if n >= MANY]
                statements = [f"TRUNCATE {', '.join(map(quoted, big))} CASCADE"] if big else []
                statements += [
                    f'DELETE FROM "{t}"'
                    for t in reversed(self.order)  # referring rows first
                    if 0 < rows.get(t, 0) < MANY
                ]
                connection.exec_driver_sql(";".join([*statements, self.restart_sequences]))
                return
        self.drop_schema(self.name)
        self._build()

    def rows(self, connection: Connection) -> dict[str, int]:
        """The tables that hold rows, with their count (up to MANY)."""
        found = connection.exec_driver_sql(self.rows_probe)
        return {table: count for table, count in found if count}

    def non_empty(self, connection: Connection) -> list[str]:
        return list(self.rows(connection))

    def save(self, name: str) -> None:
        snapshot = f"{self.name}_s{len(self.snapshots)}"  # names are longer than PG allows
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{snapshot}"'))
            tables = self.non_empty(connection)
            for table in tables:
                connection.execute(
                    text(f'CREATE TABLE "{snapshot}"."{table}" AS TABLE "{self.name}"."{table}"')
                )
            sequences = connection.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences"
                    " WHERE schemaname = :s AND last_value IS NOT NULL"
                ),
                {"s": self.name},
            ).all()
        copy = [
            f'INSERT INTO "{t}" SELECT * FROM "{snapshot}"."{t}"' for t in self.order if t in tables
        ]  # referenced rows first
        copy += [f"SELECT setval('{sequence}', {value})" for sequence, value in sequences]
        self.snapshots[name] = snapshot, ";".join(copy)

    def load(self, name: str) -> bool:
        if name not in self.snapshots:
            return False
        with self.admin.begin() as connection:
            connection.exec_driver_sql(self.snapshots[name][1])
        return True

    def drop_schema(self, name: str) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))

    def drop(self) -> None:
        for snapshot, _ in self.snapshots.values():
            self.drop_schema(snapshot)
        self.drop_schema(self.name)
        self.admin.dispose()


def quoted(name: str) -> str:
    return f'"{name}"'


def _insert_order(connection: Connection, schema: str) -> list[str]:
    """Tables in an order that inserts every referenced row before the rows referring to it."""
    tables = {
        name: set[str]()
        for (name,) in connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        )
    }
    for child, parent in connection.execute(
        text(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND connamespace = CAST(:s AS regnamespace)"
        ),
        {"s": schema},
    ):
        if child != parent:
            tables[child.strip('"')].add(parent.strip('"'))
    try:
        return list(TopologicalSorter(tables).static_order())
    except CycleError as exc:  # no such cycle today: a new one needs deferred constraints
        raise RuntimeError(f"foreign keys form a cycle: {exc.args[1]}") from exc


_worker_schemas: dict[int, PostgresWorkerSchema] = {}


class PostgresDatabase:
    """The worker's schema, lent to one test; reset when the test gives it back."""

    def __init__(self, schema: PostgresWorkerSchema) -> None:
        self.schema = schema
        self.engine = schema.engine()
        audit.use_keys(self.engine, AUDIT_KEYS)
        setattr(self.engine, _DATABASE, self)

    def is_empty(self) -> bool:
        with self.schema.admin.connect() as connection:
            return not self.schema.non_empty(connection)

    def save(self, name: str) -> None:
        self.schema.save(name)

    def load(self, name: str) -> bool:
        return self.schema.load(name)

    def close(self) -> None:
        self.engine.dispose()
        self.schema.reset()


def postgres_database(slot: int = 0) -> PostgresDatabase:
    """The worker's migrated schema, empty (check `postgres_problem()` first); another
    `slot` is another such schema, for a test that needs a second database."""
    if slot not in _worker_schemas:
        _worker_schemas[slot] = PostgresWorkerSchema(slot)
    return PostgresDatabase(_worker_schemas[slot])


def drop_everything() -> None:
    """At the end of the session: this process's schemas and template files."""
    while _worker_schemas:
        _worker_schemas.popitem()[1].drop()
    while _folder:
        shutil.rmtree(_folder.pop(), ignore_errors=True)
