"""The built-in scheduler: the daily batch registered at DOORSTEP_BATCH_TIME in the
business zone, the job itself run directly (no waiting for a day), a second run of the
same day refusing cleanly, and `serve --with-scheduler` starting and stopping it."""

from __future__ import annotations

import threading
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from doorstep.cli import scheduler as batch_scheduler
from doorstep.cli.main import app
from doorstep.config import Settings
from doorstep.services.batch.daily import DEFAULT_STEPS
from doorstep.services.batch.lock import day_lock
from doorstep.store.models import BatchRun
from tests.factories.world import build_world


def test_the_batch_time_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(var_dir=tmp_path).batch_time == time(6, 0)
    monkeypatch.setenv("DOORSTEP_BATCH_TIME", "07:30")
    assert Settings(var_dir=tmp_path).batch_time == time(7, 30)


def test_the_job_is_registered_daily_at_the_configured_local_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOORSTEP_BATCH_TIME", "07:30")
    monkeypatch.setenv("DOORSTEP_TIMEZONE", "Asia/Shanghai")
    settings = Settings(var_dir=tmp_path)
    scheduler = batch_scheduler.build_scheduler(None, settings)  # type: ignore[arg-type]
    job = scheduler.get_job(batch_scheduler.JOB_ID)
    assert job is not None and job.func is batch_scheduler.daily_batch
    assert job.args[1] is settings
    trigger = job.trigger
    assert isinstance(trigger, CronTrigger) and trigger.timezone == settings.zone
    after = datetime(2024, 6, 1, 8, 0, tzinfo=settings.zone)  # past today's 07:30
    fires = trigger.get_next_fire_time(None, after)
    assert fires == datetime(2024, 6, 2, 7, 30, tzinfo=settings.zone)
    assert trigger.get_next_fire_time(fires, fires.replace(minute=31)) == datetime(
        2024, 6, 3, 7, 30, tzinfo=settings.zone
    )


@pytest.mark.db
def test_the_scheduled_job_runs_today_and_a_running_day_refuses_cleanly(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(engine, tmp_path, keys)
    settings = Settings(var_dir=tmp_path / "var")
    today = datetime.now(settings.zone).date()
    with day_lock(engine, today, settings.var_dir / "locks"):  # another process's run
        assert batch_scheduler.daily_batch(engine, settings) == []
    with Session(engine) as session:
        assert session.scalar(select(BatchRun)) is None
    outcomes = batch_scheduler.daily_batch(engine, settings)
    assert [(o.name, o.state) for o in outcomes] == [(s.name, "done") for s in DEFAULT_STEPS]
    with Session(engine) as session:
        run = session.scalar(select(BatchRun).where(BatchRun.as_of == today))
    assert run is not None and run.state == "done"


def test_serve_with_scheduler_starts_and_stops_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("DOORSTEP_BATCH_TIME", "05:45")
    seen: dict[str, Any] = {}

    def fake_server(application: object, **options: object) -> None:
        seen["threads"] = [t.name for t in threading.enumerate()]
        seen["options"] = options

    monkeypatch.setattr(uvicorn, "run", fake_server)
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--with-scheduler", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "05:45" in result.output
    assert "APScheduler" in seen["threads"] and seen["options"]["port"] == 8123
    assert "APScheduler" not in [t.name for t in threading.enumerate()]  # shut down after
    seen.clear()
    assert runner.invoke(app, ["serve"]).exit_code == 0
    assert "APScheduler" not in seen["threads"]
