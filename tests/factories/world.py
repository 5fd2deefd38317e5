"""A small world for service, API and page tests: a book with overdue customers in two
cities, delinquency computed, cases selected, one user per role, a team with an assignment.

Built once per worker process and backend, then copied into each test's empty database
(tests/factories/databases.py `built_once`): the same rows, ids and personal-data keys
every time, for a few milliseconds instead of an ingest and a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from doorstep.domain.access import Role
from doorstep.store.db import transaction
from tests.factories import databases
from tests.factories.book import compute_delinquency, in_shanghai, load_book, small_book
from tests.factories.cases import assign, open_cases
from tests.factories.people import PASSWORD, ROLES, add_staff, add_team, add_user

__all__ = ["ANYTIME_RULES", "AS_OF", "PASSWORD", "ROLES", "World", "build_world"]

AS_OF = date(2024, 6, 1)
ANYTIME_RULES = Path(__file__).with_name("anytime_rules.toml")
"""Override for tests that act at the real time of day (see the file)."""
TEAM = "北京一组"
ASSIGNED_FOR = (timedelta(hours=-1), timedelta(hours=8))
"""The assignment runs from an hour before the world was built to eight hours after."""


@dataclass
class World:
    engine: Engine
    cipher: object
    hasher: object
    case_ids: list[int] = field(default_factory=list)
    assigned_case: int = 0
    other_case: int = 0
    shanghai_case: int = 0
    id_numbers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


def build_world(
    engine: Engine,
    tmp_path: Path,
    keys: tuple[object, object],
    customers: int = 8,
    then: Callable[[World], object] | None = None,
    *,
    fresh: bool = False,
) -> World:
    """The small world of `customers` customers (a quarter in Shanghai, outside the
    manager's region) in the database of `engine`; `then(world)` adds what a test file
    needs on top (a module-level function: its name keys the saved copy). `fresh` builds
    it for real even where a saved copy exists: for tests that watch the build itself."""
    name = f"world-{customers}-{id(keys[0])}"  # the keys encrypt what is saved
    if then is not None:
        name += f"-{then.__module__}.{then.__qualname__}"

    def build() -> World:
        world = _build(engine, tmp_path, keys, customers)
        if then is not None:
            then(world)
        return world

    made = build() if fresh else databases.built_once(engine, name, build)
    return replace(
        made,
        engine=engine,
        case_ids=list(made.case_ids),
        id_numbers=list(made.id_numbers),
        phones=list(made.phones),
        addresses=list(made.addresses),
    )


def _build(engine: Engine, tmp_path: Path, keys: tuple[object, object], customers: int) -> World:
    book = in_shanghai(small_book(customers))
    load_book(engine, book.write(tmp_path / "book"), keys, tmp_path / "r")
    compute_delinquency(engine, AS_OF)
    world = World(
        engine,
        *keys,
        id_numbers=[r["id_number"] for r in book.rows["customers"]],
        phones=[r["value"] for r in book.rows["contacts"]],
        addresses=[r["text"] for r in book.rows["addresses"]],
    )
    with transaction(engine) as session:
        cases = open_cases(session, AS_OF)
        staff = add_staff(session, manager_regions=["北京市"])
        mate = add_user(session, "verifier_mate", Role.VERIFIER, badge="WF-2", display_name="Mate")
        team = add_team(session, TEAM, "北京市", [staff[Role.VERIFIER], mate])
        world.case_ids = [c.id for c in cases]
        beijing = [c for c in cases if c.city == "北京市"]
        world.assigned_case, world.other_case = beijing[0].id, beijing[1].id
        world.shanghai_case = next(c.id for c in cases if c.city == "上海市")
        now = datetime.now(UTC)
        assign(session, world.assigned_case, team.id, now + ASSIGNED_FOR[0], now + ASSIGNED_FOR[1])
    return world
