"""The daily batch: resumable, idempotent, one run per day at a time, and a SIGKILL in
the middle of any step followed by a rerun gives the database an uninterrupted run gives."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.errors import BatchAlreadyRunning
from doorstep.domain.ports import FixedClock
from doorstep.services.batch.daily import (
    DEFAULT_STEPS,
    DayContext,
    Step,
    run_day,
)
from doorstep.services.batch.lock import _lock_key, day_lock
from doorstep.services.ingest import ingest_files
from doorstep.store.db import transaction
from doorstep.store.models import (
    BatchRun,
    BatchStep,
    BookFigure,
    Case,
    DelinquencySnapshot,
    FieldFigure,
    FieldFigureDay,
    Payment,
    Team,
    VisitPlan,
)
from doorstep.store.repositories import plans as plans_repo
from tests.conftest import POSTGRES_URL
from tests.factories.book import make_keys, small_book
from tests.factories.databases import postgres_database, sqlite_database

pytestmark = pytest.mark.db
AS_OF = date(2024, 6, 1)
ROOT = Path(__file__).resolve().parents[2]


def load_book(engine: Engine, tmp_path: Path) -> None:
    cipher, hasher = make_keys()
    folder = small_book(12).write(tmp_path / "book")
    with transaction(engine) as session:
        ingest_files(
            session,
            [folder],
            zone=ZoneInfo("Asia/Shanghai"),
            reports_dir=tmp_path / "reports",
            cipher=cipher,  # type: ignore[arg-type]
            hasher=hasher,  # type: ignore[arg-type]
        )
        session.add(Team(name="北京一组", city="北京市", max_visits=4))


def settings_for(tmp_path: Path) -> Settings:
    # the planning step plans the next day: bounded by iterations, the same plan whatever
    # the machine's load (the seconds only bound a starved run, or a child process running
    # an installed doorstep without the setting)
    return Settings(
        var_dir=tmp_path / "var", plan_seconds=2, plan_iterations=200, batch_publish_plans=True
    )


def fingerprint(engine: Engine) -> dict[str, Any]:
    """What the day's batch produced, without ids and times (which differ run to run)."""
    with Session(engine) as session:
        snapshots = session.execute(
            select(
                DelinquencySnapshot.loan_id,
                DelinquencySnapshot.as_of,
                DelinquencySnapshot.dpd,
                DelinquencySnapshot.bucket,
                DelinquencySnapshot.overdue_principal,
                DelinquencySnapshot.overdue_interest,
                DelinquencySnapshot.overdue_penalty,
            ).order_by(DelinquencySnapshot.loan_id)
        ).all()
        cases = session.execute(
            select(
                Case.customer_id, Case.state, Case.max_dpd, Case.overdue_amount, Case.priority
            ).order_by(Case.customer_id)
        ).all()
        steps = session.execute(
            select(BatchStep.name, BatchStep.state).order_by(BatchStep.seq)
        ).all()
        runs = session.execute(select(BatchRun.as_of, BatchRun.state)).all()
        book = session.execute(
            select(BookFigure).order_by(BookFigure.city, BookFigure.bucket)
        ).scalars()
        book_rows = [(b.as_of, b.city, b.bucket, b.loans, b.overdue, b.outstanding) for b in book]
        field = session.execute(
            select(FieldFigure.__table__).order_by(*FieldFigure.__table__.primary_key)
        ).all()
        field_days = session.scalars(select(FieldFigureDay.day).order_by(FieldFigureDay.day)).all()
    return {
        "snapshots": (len(snapshots), hashlib.sha256(repr(snapshots).encode()).hexdigest()),
        "cases": (len(cases), hashlib.sha256(repr(cases).encode()).hexdigest()),
        "steps": steps,
        "runs": runs,
        "book_figures": book_rows,
        "field_figures": (field, field_days),
    }


def test_a_rerun_skips_what_is_done_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    load_book(engine, tmp_path)
    config = settings_for(tmp_path)
    first = run_day(engine, config, AS_OF)
    assert [(o.name, o.state) for o in first] == [(s.name, "done") for s in DEFAULT_STEPS]
    assert first[1].counts["loans"] == 12
    after_first = fingerprint(engine)
    assert after_first["cases"][0] > 0, "the small book has overdue customers to select"
    assert sum(row[3] for row in after_first["book_figures"]) == 12  # every loan counted once
    assert {row[1] for row in after_first["book_figures"]} == {"北京市"}
    assert len(after_first["field_figures"][1]) == 35  # the window of finished days, no visits

    second = run_day(engine, config, AS_OF)
    assert {o.state for o in second} == {"skipped"}
    assert fingerprint(engine) == after_first

    forced = run_day(engine, config, AS_OF, force=True)
    assert {o.state for o in forced} == {"done"}
    assert fingerprint(engine) == after_first  # every step is idempotent


def test_a_failed_step_is_recorded_and_the_rerun_resumes_there(
    engine: Engine, tmp_path: Path
) -> None:
    load_book(engine, tmp_path)
    config = settings_for(tmp_path)
    calls: list[str] = []

    def flaky(session: Session, ctx: DayContext) -> Mapping[str, Any]:
        calls.append("flaky")
        if len(calls) == 1:
            session.execute(text("DELETE FROM delinquency_snapshots"))  # rolled back
            raise RuntimeError("the ledger service is down")
        return {"ok": 1}

    steps = (*DEFAULT_STEPS[:2], Step("flaky", flaky), *DEFAULT_STEPS[2:])
    with pytest.raises(RuntimeError, match="ledger"):
        run_day(engine, config, AS_OF, steps=steps)
    with Session(engine) as session:
        states = dict(session.execute(select(BatchStep.name, BatchStep.state)).all())
        assert states == {
            "ingest": "done",
            "delinquency": "done",
            "flaky": "failed",
            **{s.name: "pending" for s in DEFAULT_STEPS[2:]},
        }
        error = session.scalar(select(BatchStep.error).where(BatchStep.name == "flaky"))
        assert error is not None and "ledger service is down" in error
        assert session.scalar(select(BatchRun.state)) == "failed"
        assert session.query(DelinquencySnapshot).count() == 12  # the failed step left nothing

    outcomes = run_day(engine, config, AS_OF, steps=steps)
    assert [o.state for o in outcomes] == ["skipped"] * 2 + ["done"] * (len(DEFAULT_STEPS) - 1)
    with Session(engine) as session:
        assert session.scalar(select(BatchRun.attempts)) == 2


def test_the_clock_given_stamps_the_run_its_steps_and_their_rows(
    engine: Engine, tmp_path: Path
) -> None:
    load_book(engine, tmp_path)
    at = datetime(2024, 6, 1, 1, 30, tzinfo=UTC)
    seen: list[datetime] = []

    def look(session: Session, ctx: DayContext) -> Mapping[str, Any]:
        seen.append(ctx.clock.now())
        return {}

    steps = (DEFAULT_STEPS[1], Step("look", look))
    run_day(engine, settings_for(tmp_path), AS_OF, steps=steps, clock=FixedClock(at))
    assert seen == [at]
    with Session(engine) as session:
        run = session.scalars(select(BatchRun)).one()
        assert (run.started_at, run.finished_at) == (at, at)
        stamps = session.execute(select(BatchStep.started_at, BatchStep.finished_at)).all()
        assert set(stamps) == {(at, at)}
        computed = session.scalars(select(DelinquencySnapshot.computed_at).distinct()).all()
        assert computed == [at]


def test_the_drop_folder_is_ingested_once_and_the_next_day_is_planned(
    engine: Engine, tmp_path: Path
) -> None:
    load_book(engine, tmp_path)
    drop = tmp_path / "drop" / "20240601"
    drop.mkdir(parents=True)
    (drop / "payments.csv").write_text(
        "payment_id,loan_id,paid_on,amount,channel\nD0001,L0001,2024-05-31,1066.19,transfer\n",
        encoding="utf-8",
    )
    config = settings_for(tmp_path).model_copy(update={"drop_dir": tmp_path / "drop"})
    first = {o.name: o for o in run_day(engine, config, AS_OF)}
    assert first["ingest"].counts == {"folders": 1, "ingested": 1}
    assert first["planning"].counts["plans"] == 1  # Beijing: the only city with a team
    forced = {o.name: o for o in run_day(engine, config, AS_OF, force=True)}
    assert forced["ingest"].counts == {"folders": 1, "ingested": 0}  # seen: skipped
    assert forced["planning"].counts["plans"] == 0  # the day is planned already
    with Session(engine) as session:
        assert session.scalar(select(Payment.amount).where(Payment.payment_id == "D0001")) == 106619
        plans = session.execute(select(VisitPlan.city, VisitPlan.day, VisitPlan.state)).all()
    assert plans == [("北京市", date(2024, 6, 2), "published")]
    with Session(engine) as session:  # what the planning step and the plan task ask
        plan_id = session.scalar(select(VisitPlan.id))
        standing = plans_repo.plan_for(session, "北京市", date(2024, 6, 2))
        assert standing is not None and standing.id == plan_id
        assert plans_repo.plan_for(session, "北京市", AS_OF) is None
        assert plans_repo.cities_planned(session, date(2024, 6, 2)) == {"北京市"}


def test_a_second_run_for_the_same_day_refuses(engine: Engine, tmp_path: Path) -> None:
    load_book(engine, tmp_path)
    config = settings_for(tmp_path)
    with day_lock(engine, AS_OF, config.var_dir / "locks"):
        with pytest.raises(BatchAlreadyRunning):
            run_day(engine, config, AS_OF)
        run_day(engine, config, date(2024, 6, 2))  # another day is not blocked
    assert run_day(engine, config, AS_OF)[1].state == "done"  # free again once released


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    from doorstep.config import Settings
    from doorstep.integrations.keys import audit_keyring
    from doorstep.services.batch.daily import DEFAULT_STEPS, Step, run_day
    from doorstep.services.conduct import audit
    from doorstep.store.db import make_engine

    url, schema, var_dir, victim, as_of = sys.argv[1:6]
    args = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    engine = make_engine(url, **args)

    def killed_after_work(step):
        def work(session, ctx):
            step.work(session, ctx)
            session.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # dies with the step's writes uncommitted
        return Step(step.name, work)

    steps = [killed_after_work(s) if s.name == victim else s for s in DEFAULT_STEPS]
    config = Settings(
        var_dir=Path(var_dir), plan_seconds=2, plan_iterations=200, batch_publish_plans=True
    )
    audit.use_keys(engine, audit_keyring(config))  # as the entry points do
    run_day(engine, config, date.fromisoformat(as_of), steps=steps)
    """
)


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[tuple[Engine, str, str]]:
    """A new migrated database: (engine, url, schema) — schema empty for SQLite."""
    if kind == "sqlite":
        engine = sqlite_database(folder / "doorstep.db").engine  # a copy of the migrated one
        yield engine, engine.url.render_as_string(hide_password=False), ""
        engine.dispose()
        return
    database = postgres_database(slot=1)  # the worker's second schema, emptied after
    try:
        yield database.engine, POSTGRES_URL, database.schema.name
    finally:
        database.close()


def wait_until_the_dead_run_lets_go(engine: Engine, schema: str, seconds: float = 30) -> None:
    """PostgreSQL frees a killed client's advisory lock only once its backend notices the
    closed socket, which can lag the kill while that backend finishes a statement."""
    if engine.dialect.name != "postgresql":
        return  # flock is released by the kernel with the process
    key = _lock_key(AS_OF, schema)
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            assert time.monotonic() < deadline, "the killed run's session never ended"
            time.sleep(0.1)
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        connection.commit()


UNINTERRUPTED: dict[str, dict[str, Any]] = {}  # backend -> fingerprint of a whole run


@pytest.mark.slow
@pytest.mark.parametrize("victim", [s.name for s in DEFAULT_STEPS])
def test_sigkill_in_the_middle_of_a_step_then_rerun_equals_an_uninterrupted_run(
    engine: Engine, tmp_path: Path, victim: str
) -> None:
    kind = engine.dialect.name
    if kind not in UNINTERRUPTED:  # once per backend and test process, not per step
        load_book(engine, tmp_path / "reference")
        run_day(engine, settings_for(tmp_path / "reference"), AS_OF)
        UNINTERRUPTED[kind] = fingerprint(engine)
    expected = UNINTERRUPTED[kind]

    folder = tmp_path / "killed"
    folder.mkdir()
    with fresh_database(kind, folder) as (killed, url, schema):
        load_book(killed, folder)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                KILLER,
                url,
                schema,
                str(folder / "var"),
                victim,
                AS_OF.isoformat(),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert child.returncode == -9, child.stderr  # killed, not finished nor crashed
        with Session(killed) as session:
            states = dict(session.execute(select(BatchStep.name, BatchStep.state)).all())
        assert states[victim] == "running"  # the kill came mid-step

        wait_until_the_dead_run_lets_go(killed, schema)
        run_day(killed, settings_for(folder), AS_OF)
        assert fingerprint(killed) == expected
