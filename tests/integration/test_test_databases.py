"""The test databases themselves (tests/factories/databases.py): what one test wrote is
gone for the next, sequences restart, a saved state loads exactly as it was built, and a
schema a test changed is rebuilt. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from doorstep.domain.access import Role
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import ApiToken, User
from tests.factories import databases
from tests.factories.people import add_team, add_user

pytestmark = pytest.mark.db


def next_database(engine: Engine, tmp_path: Path) -> databases.TestDatabase:
    """The database the next test of this worker gets: the schema after its reset on
    PostgreSQL, a new copy of the template on SQLite."""
    database = databases.database_of(engine)
    assert database is not None
    if engine.dialect.name == "postgresql":
        database.close()  # what the fixture does after the test (again at its teardown)
        return databases.postgres_database()
    return databases.sqlite_database(tmp_path / "next.db")


def some_rows(engine: Engine) -> tuple[int, int]:
    """Rows in several tables, and one written and deleted again (its table is empty, its
    sequence moved on); the last user's id and the deleted row's."""
    with transaction(engine) as session:
        members = [add_user(session, f"v{n}", Role.VERIFIER) for n in range(3)]
        add_team(session, "team", None, members[:2])
        gone = ApiToken(
            user_id=members[0].id,
            token_hash="0" * 64,
            label="gone",
            scopes="read",
            expires_at=datetime(2100, 1, 1, tzinfo=UTC),
        )
        session.add(gone)
        session.flush()
        session.delete(gone)
        return members[-1].id, gone.id


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    found = {}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            found[table] = sorted((tuple(r) for r in rows), key=repr)
    return found


def test_what_a_test_wrote_is_gone_and_ids_start_again(engine: Engine, tmp_path: Path) -> None:
    assert some_rows(engine) == (3, 1)
    following = next_database(engine, tmp_path)
    try:
        assert following.is_empty()
        assert some_rows(following.engine) == (3, 1)  # the sequences restarted too
    finally:
        following.engine.dispose()


def test_a_saved_state_loads_as_it_was_built(engine: Engine, tmp_path: Path) -> None:
    name = f"probe-{tmp_path.name}"
    first = databases.built_once(engine, name, lambda: some_rows(engine))
    built = contents(engine)
    following = next_database(engine, tmp_path)
    try:

        def build_again() -> tuple[int, int]:
            raise AssertionError("built twice")

        assert databases.built_once(following.engine, name, build_again) == first
        assert contents(following.engine) == built
        with transaction(following.engine) as session:  # the ids go on from the saved ones
            assert add_user(session, "later", Role.ANALYST).id == 4
    finally:
        following.engine.dispose()


def test_where_it_cannot_copy_it_builds_in_place(engine: Engine, tmp_path: Path) -> None:
    made: list[str] = []
    some_rows(engine)
    databases.built_once(engine, "in-place", lambda: made.append("not empty"))
    plain = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")  # not from the fixtures
    databases.built_once(plain, "in-place", lambda: made.append("plain"))
    plain.dispose()
    assert made == ["not empty", "plain"]


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_schema_a_test_changed_is_rebuilt(engine: Engine, tmp_path: Path) -> None:
    """(SQLite needs no such check: each test gets its own copy of the file.)"""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE left_behind (id integer)"))
        connection.execute(text("ALTER TABLE teams DROP COLUMN max_visits"))
    following = next_database(engine, tmp_path)
    try:
        tables = inspect(following.engine).get_table_names()
        assert "left_behind" not in tables
        columns = {c["name"] for c in inspect(following.engine).get_columns("teams")}
        assert "max_visits" in columns
        assert some_rows(following.engine) == (3, 1)
    finally:
        following.engine.dispose()


def test_a_rolled_back_session_leaves_nothing(db_session: Session, engine: Engine) -> None:
    """`db_session`: what the test writes and even commits is rolled back at its end."""
    member = add_user(db_session, "inside", Role.VERIFIER)
    db_session.commit()  # a savepoint released, not a commit
    assert db_session.get(User, member.id) is not None
    with Session(engine) as other:  # another connection never sees it
        assert other.scalar(select(func.count()).select_from(User)) == 0
