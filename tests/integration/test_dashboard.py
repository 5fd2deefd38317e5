"""The dashboard's figures from a small world with a visit, a verdict, a promise and a
holdout customer; a manager sees only their cities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import Forbidden
from doorstep.services.reports.dashboard import LABELS, TITLES, Chart, build_dashboard
from doorstep.store.db import transaction
from doorstep.store.models import Case, Team, Verdict, Visit
from doorstep.store.repositories import figures
from doorstep.web.i18n import translations
from tests.factories.reports import (
    CURE_DAY,
    TODAY,
    ZONE,
    a_month_of_field_work,
)
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db


def chart(board_charts: list[Chart], key: str) -> dict[str, dict[str, float]]:
    """{label: {series: value}} of one chart."""
    found = next(c for c in board_charts if c.key == key)
    return {
        label: {s.name: s.values[n] for s in found.series} for n, label in enumerate(found.labels)
    }


def field_world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world with a month of field work (tests/factories/reports.py)."""
    return build_world(engine, tmp_path, keys, then=a_month_of_field_work)


def test_the_dashboard_counts_the_book_and_the_field(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = field_world(engine, tmp_path, keys)
    with Session(engine) as session:
        board = build_dashboard(
            session, SYSTEM, today=TODAY, zone=ZONE, bucket_order=DEFAULT_BUCKETS.names
        )
    assert board.cities == ["上海市", "北京市"]
    amounts = chart(board.charts, "book_amount")
    assert set(amounts) == {"2024-05-01", "2024-06-01", "2024-07-01"}
    assert sum(amounts["2024-07-01"].values()) > sum(amounts["2024-06-01"].values()) > 0
    assert "M0" not in amounts["2024-06-01"]  # current loans are not overdue
    assert board.roll is not None and board.roll.to_day == CURE_DAY
    assert all(
        abs(sum(row) - 100) < 0.5
        for row, n in zip(board.roll.shares, board.roll.loans, strict=True)
        if n
    )

    team = chart(board.charts, "visits_per_team")
    assert list(team.values()) == [{"visits": 1, "reached": 1, "address valid": 1}]
    assert chart(board.charts, "visits_per_day") == {"2024-06-01": {"visits": 1}}
    rates = chart(board.charts, "rates")
    assert rates["reach rate"]["%"] == 100.0 and rates["promise kept rate"]["%"] == 100.0
    assert chart(board.charts, "reasons") == {"medical": {"visits": 1}}
    assert chart(board.charts, "leaning")["hardship"]["visits"] == 1
    cure = chart(board.charts, "cure")
    assert cure["visited"]["customers"] == 1 and cure["holdout"]["customers"] == 1
    assert cure["visited"]["cured"] == 0.0  # 500 yuan paid does not clear the arrears
    recovery = chart(board.charts, "recovery")
    assert recovery["per visit"]["yuan"] == 500
    flags = chart(board.charts, "productivity")
    assert next(iter(flags.values()))["flags"] == 1
    cases = chart(board.charts, "cases")
    assert sum(sum(v.values()) for v in cases.values()) == len(world.case_ids)


def test_a_manager_sees_only_their_cities(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = field_world(engine, tmp_path, keys)
    manager = Actor("manager", Role.MANAGER, regions=frozenset({"北京市"}))
    with Session(engine) as session:
        board = build_dashboard(session, manager, today=TODAY, zone=ZONE)
        beijing_cases = len(session.scalars(select(Case.id).where(Case.city == "北京市")).all())
        everything = build_dashboard(session, SYSTEM, today=TODAY, zone=ZONE, city="北京市")
        outside = build_dashboard(session, manager, today=TODAY, zone=ZONE, city="上海市")
    assert board.cities == ["北京市"]
    cases = chart(board.charts, "cases")
    assert sum(sum(v.values()) for v in cases.values()) == beijing_cases < len(world.case_ids)
    assert chart(board.charts, "cure")["holdout"]["customers"] == 0  # the holdout is in Shanghai
    assert chart(board.charts, "book_amount") == chart(everything.charts, "book_amount")
    assert all(c.empty for c in outside.charts if c.key.startswith("book"))


def test_every_dashboard_text_has_a_chinese_translation() -> None:
    zh = translations("zh_CN")
    missing = [m for m in (*TITLES, *LABELS) if zh.gettext(m) == m]
    assert not missing, missing


def test_the_period_ends_on_its_last_day_and_verifiers_are_refused(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    field_world(engine, tmp_path, keys)
    with Session(engine) as session:
        before = build_dashboard(session, SYSTEM, today=date(2024, 5, 31), zone=ZONE)
        verifier = Actor("verifier", Role.VERIFIER)
        with pytest.raises(Forbidden):
            build_dashboard(session, verifier, today=TODAY, zone=ZONE)
    assert chart(before.charts, "visits_per_day") == {}  # the visit of 1 June is later
    assert chart(before.charts, "cure")["visited"]["customers"] == 0
    assert set(chart(before.charts, "book_amount")) == {"2024-05-01"}


def add_visit(session: Session, case_id: int, at: datetime, verdict: bool) -> None:
    team = session.scalars(select(Team)).all()[-1]
    visit = Visit(
        case_id=case_id, team_id=team.id, verifier_ids=[1, 2], state="submitted", checked_in_at=at
    )
    session.add(visit)
    session.flush()
    if verdict:
        session.add(
            Verdict(
                case_id=case_id,
                visit_id=visit.id,
                reached=False,
                address_status="moved",
                primary_reason=None,
                reasons=[],
                hardship_or_evasion="unclear",
                next_step="skip_trace",
            )
        )


def test_the_batch_field_rows_count_what_the_live_query_counts(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = field_world(engine, tmp_path, keys)
    first, last = date(2024, 5, 1), TODAY
    with transaction(engine) as session:
        add_visit(session, world.shanghai_case, datetime(2024, 6, 20, 14, tzinfo=UTC), True)
        add_visit(session, world.assigned_case, datetime(2024, 7, 2, 1, tzinfo=UTC), False)
    with Session(engine) as session:
        live = figures.field_figures(session.connection(), first, last, None, ZONE)
        beijing_live = figures.field_figures(session.connection(), first, last, ["北京市"], ZONE)
    assert sum(live.per_day.values()) == 3 and live.judged == 2
    assert live.leaning == {"hardship": 1, "unclear": 1}

    with transaction(engine) as session:  # first run: every day since the first visit
        written = figures.write_field_figures(session.connection(), TODAY, ZONE)
    assert written == 3  # one row per (day, city, team, leaning, reason) with visits
    with transaction(engine) as session:
        stored = figures.field_figures(session.connection(), first, last, None, ZONE)
        beijing = figures.field_figures(session.connection(), first, last, ["北京市"], ZONE)
        # a visit today (not written yet) is counted live; one on a written day waits
        # for the next batch, whose window rewrites that day
        add_visit(session, world.assigned_case, datetime(2024, 7, 15, 2, tzinfo=UTC), True)
        add_visit(session, world.assigned_case, datetime(2024, 7, 10, 2, tzinfo=UTC), True)
    assert stored == live and beijing == beijing_live
    with Session(engine) as session:
        before = figures.field_figures(session.connection(), first, last, None, ZONE)
    assert sum(before.per_day.values()) == 4 and date(2024, 7, 15) in before.per_day
    with transaction(engine) as session:
        figures.write_field_figures(session.connection(), TODAY + timedelta(days=1), ZONE)
    with Session(engine) as session:
        after = figures.field_figures(session.connection(), first, last, None, ZONE)
    assert sum(after.per_day.values()) == 5 and after.per_day[date(2024, 7, 10)] == 1
    assert after.per_team[next(iter(after.per_team))].active_days >= 1
