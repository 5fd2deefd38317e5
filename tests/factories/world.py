"""A small world for service, API and page tests: a book with overdue customers in two
cities, delinquency computed, cases selected, one user per role, a team with an assignment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from doorstep.domain.access import SYSTEM, Role
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.selection import SelectionPolicy
from doorstep.services.batch.delinquency import run_delinquency
from doorstep.services.cases import select_cases
from doorstep.services.ingest import ingest_files
from doorstep.services.people import teams, users
from doorstep.store.db import transaction
from doorstep.store.models import Case
from tests.factories.book import small_book

AS_OF = date(2024, 6, 1)
ANYTIME_RULES = Path(__file__).with_name("anytime_rules.toml")
"""Override for tests that act at the real time of day (see the file)."""
PASSWORD = "correct horse battery"
ROLES = [Role.ADMIN, Role.MANAGER, Role.VERIFIER, Role.ANALYST, Role.AUDITOR]


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
    engine: Engine, tmp_path: Path, keys: tuple[object, object], customers: int = 8
) -> World:
    cipher, hasher = keys
    book = small_book(customers)
    for n, row in enumerate(book.rows["addresses"]):
        if n % 4 == 3:  # a quarter live in Shanghai: outside the manager's region
            row.update(
                text=f"上海市浦东新区张江路{n}号",
                province="上海市",
                city="上海市",
                district="浦东新区",
            )
    folder = book.write(tmp_path / "book")
    world = World(
        engine,
        cipher,
        hasher,
        id_numbers=[r["id_number"] for r in book.rows["customers"]],
        phones=[r["value"] for r in book.rows["contacts"]],
        addresses=[r["text"] for r in book.rows["addresses"]],
    )
    with transaction(engine) as session:
        ingest_files(
            session,
            [folder],
            zone=ZoneInfo("Asia/Shanghai"),
            reports_dir=tmp_path / "r",
            cipher=cipher,
            hasher=hasher,
        )  # type: ignore[arg-type]
    with transaction(engine) as session:
        run_delinquency(session, AS_OF, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
    with transaction(engine) as session:
        select_cases(
            session, SYSTEM, AS_OF, policy=SelectionPolicy(), capacity=100, buckets=DEFAULT_BUCKETS
        )
        made = {}
        for role in ROLES:
            regions = ["北京市"] if role is Role.MANAGER else None
            made[role] = users.add_user(
                session,
                SYSTEM,
                users.NewUser(role.value, role.value.title(), role, PASSWORD, regions, None),
            )
        mate = users.add_user(
            session,
            SYSTEM,
            users.NewUser("verifier_mate", "Mate", Role.VERIFIER, PASSWORD, None, "WF-2"),
        )
        team = teams.create_team(session, SYSTEM, "北京一组", "北京市", [made[Role.VERIFIER], mate])
        cases = session.scalars(select(Case).order_by(Case.id)).all()
        world.case_ids = [c.id for c in cases]
        beijing = [c for c in cases if c.city == "北京市"]
        world.assigned_case, world.other_case = beijing[0].id, beijing[1].id
        world.shanghai_case = next(c.id for c in cases if c.city == "上海市")
        now = datetime.now(UTC)
        teams.assign(
            session,
            SYSTEM,
            world.assigned_case,
            team.id,
            now - timedelta(hours=1),
            now + timedelta(hours=8),
        )
    return world
