"""A real worker (a `doorstep worker` subprocess, Redis broker, PostgreSQL) runs the daily
batch's delinquency step in partitions, with the figures of the in-process run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.services.batch.daily import DEFAULT_STEPS, run_day
from doorstep.services.delinquency import run_delinquency
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import BatchStep, DelinquencySnapshot
from tests.factories.audit import signing
from tests.factories.book import TEST_DATA_KEY, TEST_LOOKUP_KEY
from tests.integration.test_delinquency_batch import book_of, ingest_book, random_cases
from tests.integration.test_partitioned_batch import AS_OF, KW, stored

pytestmark = [pytest.mark.db, pytest.mark.slow]
REDIS = ("127.0.0.1", 6379)
BROKER = os.environ.get("DOORSTEP_TEST_BROKER_URL", "redis://127.0.0.1:6379/13")


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def task_queue(monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's own queue on the shared test broker, so a worker of another test (or of
    the other xdist process) never takes its tasks; every `Settings()` of the test, and
    the worker it starts, read it from the environment."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("DOORSTEP_TASK_QUEUE", queue)
    return queue


@pytest.fixture
def pg_url(task_queue: str, postgres_url: str) -> str:
    """The worker's PostgreSQL schema as a URL (for this test and its `doorstep worker`,
    emptied after the test), on this test's own task queue."""
    if not _redis_reachable():
        pytest.skip(f"Redis unreachable at {REDIS[0]}:{REDIS[1]}: no worker test")
    return postgres_url


@contextmanager
def running_worker(
    pg_url: str, folder: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `doorstep worker` (2 processes) on the test broker and database, stopped
    (SIGTERM, then SIGKILL of its process group) when the block ends."""
    environment = {
        **os.environ,
        **(env or {}),
        "DOORSTEP_BROKER_URL": BROKER,
        "DOORSTEP_DATABASE_URL": pg_url,
        "DOORSTEP_VAR_DIR": str(folder / "worker"),
    }
    log = (folder / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from doorstep.cli.main import app; app()", "worker"),
            *("--concurrency", "2", "--hostname", f"test-{uuid.uuid4().hex[:6]}@%h"),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the worker we started, and its children
            process.wait()
        log.close()


@pytest.fixture
def worker(pg_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with running_worker(pg_url, tmp_path) as process:
        yield process


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_worker_runs_partitioned_step_with_in_process_figures(
    pg_url: str, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    engine: Engine = signing(make_engine(pg_url))
    try:
        migrate.upgrade(engine)
        folder = book_of(random_cases(300, seed=5)).write(tmp_path / "book")
        with transaction(engine) as session:
            ingest_book(session, folder)
            whole = run_delinquency(session, AS_OF, **KW)
        expected = stored(engine)
        with transaction(engine) as session:
            session.execute(DelinquencySnapshot.__table__.delete())

        config = Settings(
            var_dir=tmp_path / "batch",
            database_url=pg_url,
            broker_url=BROKER,
            delinquency_partitions=4,
            task_timeout_seconds=120,
        )
        steps = [s for s in DEFAULT_STEPS if s.name == "delinquency"]
        [outcome] = run_day(engine, config, AS_OF, steps=steps)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert outcome.state == "done"
        assert dict(outcome.counts) == {
            "loans": whole.loans,
            "overdue_loans": whole.overdue_loans,
            "partitions": 4,
        }
        assert stored(engine) == expected
        with engine.connect() as connection:
            state = connection.execute(
                select(BatchStep.state).where(BatchStep.name == "delinquency")
            ).scalar_one()
        assert state == "done"

        # a worker process killed while the step runs: its task goes back to the queue and
        # runs again; the step still finishes, with the same rows and no duplicates
        outcomes: list[object] = []
        rerun = threading.Thread(
            target=lambda: outcomes.extend(run_day(engine, config, AS_OF, steps=steps, force=True))
        )
        rerun.start()
        time.sleep(0.3)
        killed = children(worker.pid)
        for pid in killed[:1]:
            os.kill(pid, signal.SIGKILL)  # one pool process of the worker this test started
        rerun.join(timeout=180)
        assert killed
        assert [getattr(o, "state", None) for o in outcomes] == ["done"]
        assert stored(engine) == expected
    finally:
        engine.dispose()


def test_batch_run_and_the_scheduler_enqueue_the_heavy_steps_and_wait(
    pg_url: str, worker: subprocess.Popen[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`doorstep batch run` and the scheduler's job, with a broker configured, hand the
    delinquency step to the worker as partitions, wait for all of them and report them;
    the figures are those of the in-process run."""
    from datetime import datetime

    from typer.testing import CliRunner

    from doorstep.cli import scheduler as batch_scheduler
    from doorstep.cli.main import app

    engine: Engine = signing(make_engine(pg_url))
    try:
        migrate.upgrade(engine)
        folder = book_of(random_cases(150, seed=8)).write(tmp_path / "book")
        with transaction(engine) as session:
            ingest_book(session, folder)
            whole = run_delinquency(session, AS_OF, **KW)
        expected = stored(engine)
        with transaction(engine) as session:
            session.execute(DelinquencySnapshot.__table__.delete())

        env = {
            "DOORSTEP_BROKER_URL": BROKER,
            "DOORSTEP_DATABASE_URL": pg_url,
            "DOORSTEP_VAR_DIR": str(tmp_path / "batch"),
            "DOORSTEP_DELINQUENCY_PARTITIONS": "3",
            "DOORSTEP_TASK_TIMEOUT_SECONDS": "120",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["batch", "run", "--as-of", AS_OF.isoformat()])
        assert result.exit_code == 0, result.output
        assert "broker configured" in result.output
        assert "partitions=3" in result.output and f"loans={whole.loans}" in result.output
        assert stored(engine) == expected
        with engine.connect() as connection:
            states = dict(connection.execute(select(BatchStep.name, BatchStep.state)).all())
        assert set(states.values()) == {"done"}

        config = Settings()  # the scheduler's job, from the same settings
        outcomes = batch_scheduler.daily_batch(engine, config)
        today = datetime.now(config.zone).date()
        by_name = {o.name: o for o in outcomes}
        assert by_name["delinquency"].state == "done", today
        assert by_name["delinquency"].counts["partitions"] == 3
        assert by_name["delinquency"].counts["loans"] == whole.loans
        assert by_name["deliveries"].counts == {"published": 0}
        assert worker.poll() is None
    finally:
        engine.dispose()


def test_planning_and_dossiers_run_as_tasks_on_the_worker(
    pg_url: str, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """With a broker the planning step sends one task per city and day, the dossiers step
    tasks of verifiers' dossiers and the exports step the day's feedback file to a real
    worker; the coordinator publishes the plans, and a rerun plans nothing new."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from doorstep.services.lender import dossier, feedback
    from doorstep.store.models import Case, PlanStop, VisitPlan
    from doorstep.store.repositories import visits as visits_repo
    from tests.factories.world import build_world

    engine: Engine = signing(make_engine(pg_url))
    try:
        migrate.upgrade(engine)
        world = build_world(engine, tmp_path, keys)
        with transaction(engine) as session:  # published for today: scheduled, live-assigned
            session.execute(
                update(Case).where(Case.id == world.assigned_case).values(state="scheduled")
            )
        config = Settings(
            var_dir=tmp_path / "worker",  # the worker's: the dossier cache is shared storage
            database_url=pg_url,
            broker_url=BROKER,
            plan_seconds=2,  # a bound; the iterations stop the search
            plan_iterations=200,
            batch_publish_plans=True,
            task_timeout_seconds=120,
            data_keys=TEST_DATA_KEY,  # the world's personal data is sealed with the test keys
            lookup_key=TEST_LOOKUP_KEY,
        )
        today = datetime.now(config.zone).date()
        steps = [s for s in DEFAULT_STEPS if s.name in ("planning", "dossiers", "exports")]
        worker_env = {
            "DOORSTEP_PLAN_SECONDS": "2",
            "DOORSTEP_PLAN_ITERATIONS": "200",
            "DOORSTEP_DATA_KEYS": TEST_DATA_KEY,
            "DOORSTEP_LOOKUP_KEY": TEST_LOOKUP_KEY,
        }
        with running_worker(pg_url, tmp_path, worker_env) as process:
            planning, dossiers, exports = run_day(engine, config, today, steps=steps)
            again = run_day(engine, config, today, steps=steps[:1], force=True)
            assert process.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        with engine.connect() as connection:
            plans = connection.execute(select(VisitPlan.id, VisitPlan.city, VisitPlan.state)).all()
            stops = connection.execute(
                select(PlanStop.id).where(PlanStop.team_id.is_not(None))
            ).all()
        assert [(city, state) for _, city, state in plans] == [("北京市", "published")]
        assert dict(planning.counts) == {"plans": 1, "published": 1, "stops": len(stops)}
        assert len(stops) > 0
        assert dict(again[0].counts) == {"plans": 0, "published": 0, "stops": 0}
        with Session(engine) as session:  # tomorrow's plan is live already: not today's work
            readers = visits_repo.live_readers(session, datetime.now(UTC), ("scheduled",))
        assert len(readers) > 2
        assert dict(dossiers.counts) == {"prepared": 2, "skipped": 0, "tasks": 1}
        folder = dossier.cache_folder(config.var_dir) / today.isoformat()
        assert (
            len(list(folder.glob(f"{world.assigned_case}-*.pdf.sealed"))) == 2
        )  # one per verifier
        assert dict(exports.counts) == {"feedback_rows": 0}  # no verdicts yesterday
        yesterday = today - timedelta(days=1)
        assert feedback.daily_file(config.var_dir / "exports", yesterday).exists()
    finally:
        engine.dispose()
