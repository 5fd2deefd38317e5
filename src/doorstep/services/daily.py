"""The daily batch: the day's steps in order, each resumable and idempotent.

Each step runs in its own transaction and is marked ``done`` inside that same
transaction: a crash (even SIGKILL) at any point leaves either all of a step's work and
its ``done`` mark, or neither, so a rerun for the same day skips what finished and
redoes what did not, without duplicates. Steps themselves are idempotent (a rerun of
the delinquency step replaces the day's snapshots; selection never opens a second case
for a customer with an open one), which is what makes ``--force`` safe too.

Two runs for the same day at once: the second refuses (a PostgreSQL advisory lock, or
an exclusive file lock beside the SQLite file; both die with their process, so a crash
never leaves a stale lock behind).
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.selection import SelectionPolicy, value_terms
from doorstep.services.cases import select_cases
from doorstep.services.dashboard import CURE_DAYS
from doorstep.services.delinquency import Progress, run_delinquency
from doorstep.services.promises import judge_promises
from doorstep.store.db import transaction
from doorstep.store.models import BatchRun, BatchStep
from doorstep.store.models import Team as TeamRow
from doorstep.store.repositories import figures


class BatchAlreadyRunning(DoorstepError):
    code = "batch_running"


@dataclass
class DayContext:
    as_of: date
    settings: Settings
    progress: Progress | None = None


StepWork = Callable[[Session, DayContext], Mapping[str, Any]]
"""A step's work inside the step's transaction; returns the counts to record."""


@dataclass(frozen=True)
class Step:
    name: str
    work: StepWork


@dataclass
class StepOutcome:
    name: str
    state: str  # done | skipped (already done) | failed
    counts: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _delinquency(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    summary = run_delinquency(
        session,
        ctx.as_of,
        waterfall=ctx.settings.waterfall_rule,
        buckets=ctx.settings.bucket_scheme,
        progress=ctx.progress,
    )
    return {"loans": summary.loans, "overdue_loans": summary.overdue_loans}


def _promises(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    run = judge_promises(session, ctx.as_of, grace_days=ctx.settings.promise_grace_days)
    return {**run.judged, "still_open": run.still_open}


def _figures(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    connection = session.connection()
    return {
        "book_rows": figures.write_book_figures(connection, ctx.as_of),
        "roll_rows": figures.write_roll_figures(connection, ctx.as_of),
        "outcomes": figures.write_visit_outcomes(
            connection, ctx.as_of, ctx.settings.zone, days=CURE_DAYS
        ),
    }


def _selection(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    uplift_bp, visit_cost = value_terms(ctx.settings.visit_uplift, ctx.settings.visit_cost)
    # capacity: what the teams in the field can visit in a day
    capacity = session.scalar(select(func.coalesce(func.sum(TeamRow.max_visits), 0))) or 0
    report = select_cases(
        session,
        SYSTEM,
        ctx.as_of,
        policy=SelectionPolicy(uplift_bp=uplift_bp, visit_cost=visit_cost),
        capacity=int(capacity),
        buckets=ctx.settings.bucket_scheme,
    )
    return {
        "eligible": report.eligible,
        "opened": report.opened,
        "made_ready": report.made_ready,
        "skip_trace": report.skip_trace,
        "cancelled_cured": report.cancelled_cured,
    }


DEFAULT_STEPS: tuple[Step, ...] = (
    Step("delinquency", _delinquency),
    Step("promises", _promises),
    Step("figures", _figures),
    Step("selection", _selection),
)


def _lock_key(as_of: date) -> int:
    digest = hashlib.sha256(f"doorstep-batch-{as_of.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def day_lock(engine: Engine, as_of: date, lock_dir: Path) -> Iterator[None]:
    """Hold the day's batch lock for the whole run, or raise `BatchAlreadyRunning`."""
    busy = BatchAlreadyRunning(
        f"the batch for {as_of} is already running",
        message_zh=f"{as_of} 的批处理正在运行",
    )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            key = _lock_key(as_of)
            if not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise busy
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        return
    import fcntl  # the embedded SQLite default runs on one machine

    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"batch-{as_of.isoformat()}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_run(engine: Engine, as_of: date, steps: Sequence[Step], force: bool) -> int:
    with transaction(engine) as session:
        run = session.scalar(select(BatchRun).where(BatchRun.as_of == as_of))
        if run is None:
            run = BatchRun(as_of=as_of, state="running", attempts=1)
            session.add(run)
            session.flush()
        else:
            run.state, run.finished_at, run.attempts = "running", None, run.attempts + 1
        known = {
            s.name: s for s in session.scalars(select(BatchStep).where(BatchStep.run_id == run.id))
        }
        for seq, step in enumerate(steps, start=1):
            row = known.get(step.name)
            if row is None:
                session.add(BatchStep(run_id=run.id, seq=seq, name=step.name, state="pending"))
            elif force or row.state != "done":
                row.state, row.error = "pending", None
        return run.id


def _set_step(session: Session, run_id: int, name: str, **values: Any) -> None:
    row = session.scalars(
        select(BatchStep).where(BatchStep.run_id == run_id, BatchStep.name == name)
    ).one()
    for key, value in values.items():
        setattr(row, key, value)


def _set_run(engine: Engine, run_id: int, state: str) -> None:
    with transaction(engine) as session:
        run = session.get_one(BatchRun, run_id)
        run.state = state
        run.finished_at = datetime.now(UTC) if state in {"done", "failed"} else None


def run_day(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    steps: Sequence[Step] = DEFAULT_STEPS,
    force: bool = False,
    progress: Progress | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    """Run (or finish) the day's batch; returns what each step did."""
    context = DayContext(as_of, settings, progress)
    outcomes: list[StepOutcome] = []
    with day_lock(engine, as_of, settings.var_dir / "locks"):
        run_id = _open_run(engine, as_of, steps, force)
        for step in steps:
            with transaction(engine) as session:
                state = session.scalar(
                    select(BatchStep.state).where(
                        BatchStep.run_id == run_id, BatchStep.name == step.name
                    )
                )
                if state != "done":
                    _set_step(
                        session,
                        run_id,
                        step.name,
                        state="running",
                        started_at=datetime.now(UTC),
                        finished_at=None,
                    )
            if state == "done":
                outcome = StepOutcome(step.name, "skipped")
            else:
                outcome = _run_step(engine, run_id, step, context)
            outcomes.append(outcome)
            if on_step:
                on_step(outcome)
        _set_run(engine, run_id, "done")
    return outcomes


def _run_step(engine: Engine, run_id: int, step: Step, context: DayContext) -> StepOutcome:
    started = datetime.now(UTC)
    try:
        with transaction(engine) as session:
            counts = dict(step.work(session, context))
            # marked done in the step's own transaction: all of it, or nothing
            _set_step(
                session,
                run_id,
                step.name,
                state="done",
                counts=counts,
                finished_at=datetime.now(UTC),
                error=None,
            )
    except Exception as exc:
        with transaction(engine) as session:
            _set_step(
                session,
                run_id,
                step.name,
                state="failed",
                finished_at=datetime.now(UTC),
                error="".join(traceback.format_exception_only(exc)).strip()[:2000],
            )
        _set_run(engine, run_id, "failed")
        raise
    return StepOutcome(step.name, "done", counts, (datetime.now(UTC) - started).total_seconds())


def runs(session: Session, limit: int = 30) -> list[tuple[BatchRun, list[BatchStep]]]:
    """The latest runs with their steps, newest first (for the batch page)."""
    latest = session.scalars(select(BatchRun).order_by(BatchRun.as_of.desc()).limit(limit)).all()
    steps = session.scalars(
        select(BatchStep)
        .where(BatchStep.run_id.in_([r.id for r in latest]))
        .order_by(BatchStep.run_id, BatchStep.seq)
    ).all()
    by_run: dict[int, list[BatchStep]] = {}
    for step in steps:
        by_run.setdefault(step.run_id, []).append(step)
    return [(run, by_run.get(run.id, [])) for run in latest]
