"""The batch page: the latest runs with their steps; a manager runs or resumes a day's
batch from it (the same `run_day` as the CLI, in the background), and a day already
running answers with a clear message instead of a second run."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.domain.ports import FixedClock
from doorstep.services.batch.daily import DEFAULT_STEPS
from doorstep.services.batch.lock import day_lock
from doorstep.store.models import AuditEvent, BatchRun, BatchStep
from tests.factories.book import TEST_DATA_KEY, TEST_LOOKUP_KEY
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import AS_OF, World

pytestmark = pytest.mark.db


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """What the shared `app` runs with (its files under tmp_path/var; the world's keys)."""
    return Settings(var_dir=tmp_path / "var", data_keys=TEST_DATA_KEY, lookup_key=TEST_LOOKUP_KEY)


def wait_for_run(engine: Engine, attempts: int = 1, seconds: float = 120) -> BatchRun:
    """The day's run once its `attempts`-th attempt has finished."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(engine) as session:
            run = session.scalar(select(BatchRun).where(BatchRun.as_of == AS_OF))
            if run is not None and run.attempts == attempts and run.state != "running":
                return run
        time.sleep(0.2)
    raise AssertionError("the batch did not finish")


def test_a_manager_runs_the_day_and_sees_its_steps(client: TestClient, engine: Engine) -> None:
    sign_in(client, "manager")
    page = client.get("/batch")
    assert page.status_code == 200 and "尚未运行过批处理" in page.text
    answer = client.post(
        "/batch/run",
        data={"as_of": AS_OF.isoformat(), "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    run = wait_for_run(engine)
    assert run.state == "done"
    with Session(engine) as session:
        steps = session.scalars(select(BatchStep).where(BatchStep.run_id == run.id)).all()
        audited = session.scalar(select(AuditEvent).where(AuditEvent.action == "batch.run"))
    assert {s.name: s.state for s in steps} == {s.name: "done" for s in DEFAULT_STEPS}
    assert audited is not None and audited.actor == "manager"
    page = client.get("/batch")
    assert f'data-run="{AS_OF}" data-state="done"' in page.text
    for step in DEFAULT_STEPS:  # each step with its state, times, duration and counts
        assert f'data-step="{step.name}" data-state="done"' in page.text
    assert "逾期计算" in page.text and "loans=" in page.text
    # a second press resumes: every step is done already, nothing is redone
    client.post("/batch/run", data={"as_of": AS_OF.isoformat(), "csrf_token": csrf_of(page.text)})
    assert wait_for_run(engine, attempts=2).state == "done"


def test_a_day_already_running_is_refused_clearly(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    sign_in(client, "admin")
    token = csrf_of(client.get("/batch").text)
    with day_lock(engine, AS_OF, settings.var_dir / "locks"):
        answer = client.post("/batch/run", data={"as_of": AS_OF.isoformat(), "csrf_token": token})
    assert answer.status_code == 409
    assert f"{AS_OF} 的批处理正在运行" in answer.text
    with Session(engine) as session:
        assert session.scalar(select(BatchRun)) is None


@pytest.mark.parametrize("role", ["verifier", "analyst", "auditor"])
def test_only_roles_that_run_batches_see_the_page(client: TestClient, role: str) -> None:
    token = sign_in(client, role)
    assert client.get("/batch").status_code == 403
    answer = client.post("/batch/run", data={"as_of": AS_OF.isoformat(), "csrf_token": token})
    assert answer.status_code == 403


def test_the_page_and_its_runs_keep_the_apps_clock(
    world: World, engine: Engine, settings: Settings
) -> None:
    """The page offers the app clock's business day, and the run it starts is stamped by
    that clock (a test or a replay sets it; the real one is the system's)."""
    at = datetime(2024, 5, 31, 17, 0, tzinfo=UTC)  # 2024-06-01 01:00 in Shanghai
    app = create_app(settings, engine=engine, migrate_schema=False, clock=FixedClock(at))
    app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    with TestClient(app) as client:
        sign_in(client, "manager")
        page = client.get("/batch")
        assert f'name="as_of" value="{AS_OF}"' in page.text
        client.post(
            "/batch/run", data={"as_of": AS_OF.isoformat(), "csrf_token": csrf_of(page.text)}
        )
        run = wait_for_run(engine)
    assert (run.state, run.started_at, run.finished_at) == ("done", at, at)
    with Session(engine) as session:
        stamps = session.execute(select(BatchStep.started_at, BatchStep.finished_at)).all()
    assert set(stamps) == {(at, at)}
