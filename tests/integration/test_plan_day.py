"""`doorstep plan` on a SQLite file: the city's ready cases planned, saved as a draft,
printed; `--publish` schedules them; bad input is a clear error with nothing saved."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from doorstep.cli.main import app
from doorstep.config import Settings
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import Case, PlanStop, VisitPlan
from tests.factories.databases import sqlite_database
from tests.factories.world import build_world

pytestmark = pytest.mark.db
runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: tuple[object, object]) -> Path:
    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(var))
    monkeypatch.delenv("DOORSTEP_DATABASE_URL", raising=False)
    monkeypatch.setenv("DOORSTEP_PLAN_ITERATIONS", "200")  # bounds the solver, not --seconds
    url = make_url(Settings(var_dir=var).resolved_database_url)
    engine = sqlite_database(Path(url.database or "")).engine  # the world copied in
    build_world(engine, tmp_path, keys)
    engine.dispose()
    return var


def test_plan_saves_a_draft_and_publishes(var_dir: Path) -> None:
    day = (datetime.now(Settings().zone).date() + timedelta(days=1)).isoformat()
    engine = make_engine(Settings(var_dir=var_dir).resolved_database_url)
    with transaction(engine) as session:
        ready = set(
            session.scalars(select(Case.id).where(Case.state == "ready", Case.city == "北京市"))
        )
    assert ready
    result = runner.invoke(app, ["plan", "--date", day, "--city", "北京市", "--seconds", "30"])
    assert result.exit_code == 0, result.output
    assert "(draft) for 北京市" in result.output
    with transaction(engine) as session:
        plan = session.scalars(select(VisitPlan)).one()
        assert plan.state == "draft"
        assert set(session.scalars(select(PlanStop.case_id))) == ready

    result = runner.invoke(
        app, ["plan", "--date", day, "--city", "北京市", "--seconds", "30", "--publish"]
    )
    assert result.exit_code == 0, result.output
    assert "(published)" in result.output
    with transaction(engine) as session:
        states = {p.id: p.state for p in session.scalars(select(VisitPlan))}
        assert sorted(states.values()) == ["draft", "published"]
        routed = set(
            session.scalars(
                select(PlanStop.case_id).where(
                    PlanStop.team_id.is_not(None), PlanStop.plan_id == max(states)
                )
            )
        )
        assert routed
        for case_id in routed:
            assert session.get(Case, case_id).state == "scheduled"  # type: ignore[union-attr]
    engine.dispose()


def test_plan_rejects_bad_input_and_saves_nothing(var_dir: Path) -> None:
    for args, needle in (
        (["--date", "2025-13-01", "--city", "北京市"], "date"),
        (["--date", "2030-01-01", "--city", "火星市"], "火星市"),
        (["--date", "2030-01-01", "--city", "北京市", "--seconds", "0"], "seconds"),
    ):
        result = runner.invoke(app, ["plan", *args])
        assert result.exit_code != 0
        assert needle in result.output
    engine = make_engine(Settings(var_dir=var_dir).resolved_database_url)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(VisitPlan)) == 0
    engine.dispose()
