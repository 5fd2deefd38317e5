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
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.case import CaseState
from doorstep.domain.ports import Clock, SystemClock
from doorstep.domain.selection import SelectionPolicy, value_terms
from doorstep.integrations.broker import Broker, reported
from doorstep.integrations.keys import personal_data_keys
from doorstep.services import outbox, scoring, visit_plans
from doorstep.services.batch.lock import day_lock
from doorstep.services.cases import select_cases, tasks
from doorstep.services.conduct import audit, audit_checks
from doorstep.services.delinquency import (
    Progress,
    collect,
    run_delinquency,
    run_partitioned,
    via_broker,
)
from doorstep.services.ingest import ingest_files
from doorstep.services.lender import dossier, feedback
from doorstep.services.repayment import offers
from doorstep.services.repayment.promises import judge_promises
from doorstep.services.reports.dashboard import CURE_DAYS
from doorstep.services.restatements import restate_marked
from doorstep.store.db import transaction
from doorstep.store.models import BatchRun, BatchStep, VisitPlan
from doorstep.store.repositories import batch as batch_repo
from doorstep.store.repositories import figures, restatements
from doorstep.store.repositories import plans as plans_repo
from doorstep.store.repositories import scoring as scores_repo
from doorstep.store.repositories import visits as visits_repo


@dataclass
class DayContext:
    """What every step is given: the day, the settings, and the clock that stamps what
    the steps write (the entry point's: a test or a replay sets it)."""

    as_of: date
    settings: Settings
    progress: Progress | None = None
    clock: Clock = field(default_factory=SystemClock)


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


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """Each sub-folder of the drop folder is one delivery of lender files, ingested once:
    a folder whose every file's SHA-256 is in an applied import batch is skipped (and a
    repeated import would change nothing anyway)."""
    drop = ctx.settings.drop_dir
    if drop is None or not drop.is_dir():
        return {"folders": 0}
    seen = batch_repo.applied_file_hashes(session)
    cipher, hasher = personal_data_keys(ctx.settings)
    counts = {"folders": 0, "ingested": 0}
    for folder in sorted(p for p in drop.iterdir() if p.is_dir()):
        counts["folders"] += 1
        if {_file_hash(f) for f in folder.iterdir() if f.is_file()} <= seen:
            continue
        report = ingest_files(
            session,
            [folder],
            zone=ctx.settings.zone,
            reports_dir=ctx.settings.reports_dir,
            cipher=cipher,
            hasher=hasher,
            actor="batch",
            clock=ctx.clock,
            payment_future_days=ctx.settings.payment_future_days,
        )
        counts["ingested"] += 1
        found = {"identity_flags": len(report.flags), "restatements_due": report.restatements_due}
        counts |= {k: counts.get(k, 0) + n for k, n in found.items() if n}  # only when found
    return counts


def _delinquency(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """The day's snapshots of every loan, then the earlier snapshots of the loans whose
    payments changed since (backdated payments) restated."""
    broker = Broker.from_settings(ctx.settings)
    waterfall, buckets = ctx.settings.waterfall_rule, ctx.settings.bucket_scheme
    partitions = ctx.settings.delinquency_partitions
    if broker:  # a fleet: the partitions run on the workers, all or none
        summary = run_partitioned(ctx.as_of, partitions, via_broker(broker))
    else:
        summary = run_delinquency(
            session, ctx.as_of, waterfall=waterfall, buckets=buckets, progress=ctx.progress,
            now=ctx.clock.now(),
        )  # fmt: skip
    restated = restate_marked(
        session, ctx.as_of, waterfall=waterfall, buckets=buckets, now=ctx.clock.now()
    )
    counts = {"loans": summary.loans, "overdue_loans": summary.overdue_loans}
    return counts | ({"partitions": partitions} if broker else {}) | restated.counts()


def _promises(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """Judge the promises, then escalate the tasks past their due day (one alert each)."""
    now, grace = ctx.clock.now(), ctx.settings.promise_grace_days
    run = judge_promises(session, ctx.as_of, now=now, grace_days=grace)
    overdue = tasks.escalate_overdue(session, ctx.as_of, now)
    return {**run.judged, "still_open": run.still_open, "tasks_overdue": len(overdue)}


def _scoring(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """Score the day with the active visit_priority model, if there is one (replaces the
    day's earlier scores, so a rerun changes nothing)."""
    active = scores_repo.active_version(session, scores_repo.VISIT_PRIORITY)
    if active is None:
        return {"scored": 0}
    config = ctx.settings
    broker = Broker.from_settings(config)
    if broker:  # a fleet: partitions of whole customers on the workers, all or none
        partitions = config.delinquency_partitions
        dispatch = via_broker(broker, task=scoring.SCORING_PARTITION_TASK, args=(active.id,))
        outcomes = collect(ctx.as_of, partitions, dispatch, step="scoring")
        report = scoring.finish_partitioned(session, SYSTEM, ctx.as_of, active.id, outcomes)
        return {"scored": report.scored, "partitions": partitions}
    report = scoring.apply(
        session,
        SYSTEM,
        ctx.as_of,
        waterfall=config.waterfall_rule,
        buckets=config.bucket_scheme,
        clock=ctx.clock,
    )
    return {"scored": report.scored}


def _figures(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    connection = session.connection()
    counts = {
        "book_rows": figures.write_book_figures(connection, ctx.as_of),
        "roll_rows": figures.write_roll_figures(connection, ctx.as_of),
        "field_rows": figures.write_field_figures(connection, ctx.as_of, ctx.settings.zone),
        "outcomes": figures.write_visit_outcomes(
            connection, ctx.as_of, ctx.settings.zone, days=CURE_DAYS
        ),
    }
    # the days whose snapshots the delinquency step restated get their book figures again
    restated = [d for d in restatements.restated_days(connection, ctx.as_of) if d != ctx.as_of]
    for day in restated:
        figures.write_book_figures(connection, day)
        figures.write_roll_figures(connection, day)
    return {**counts, "restated_days": len(restated)} if restated else counts


def selection_policy(settings: Settings) -> SelectionPolicy:
    """The selection policy from the settings (value terms and holdout share)."""
    uplift_bp, visit_cost = value_terms(settings.visit_uplift, settings.visit_cost)
    return SelectionPolicy(
        uplift_bp=uplift_bp, visit_cost=visit_cost, holdout_share=settings.selection_holdout
    )


def _selection(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """Select against each city's teams; the report names what each city left unplaced."""
    capacity, policy = batch_repo.capacity_by_city(session), selection_policy(ctx.settings)
    buckets = ctx.settings.bucket_scheme
    report = select_cases(
        session, SYSTEM, ctx.as_of, policy=policy, capacity=capacity, buckets=buckets
    )
    names = ("eligible", "opened", "made_ready", "skip_trace", "cancelled_cured", "holdout")
    return {
        **{name: getattr(report, name) for name in names},
        "unplaced_by_city": report.unplaced_by_city,
        "cities_without_team": report.cities_without_team,
    }


DOSSIERS_TASK = "doorstep.prepare_dossiers"
DOSSIERS_PER_TASK = 25


def _dossiers(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """Render the day's dossiers ahead (each verifier's own, masked for them), so the
    morning's downloads are cache reads; on the workers when there are some (tasks of a
    few verifiers' dossiers each). Only for the business day itself: the cache is per
    day, and a batch catching up on a past day has no one to prepare for."""
    settings = ctx.settings
    now = ctx.clock.now()
    if not settings.prepare_dossiers or ctx.as_of != now.astimezone(settings.zone).date():
        return {"prepared": 0, "skipped": 0}
    states = (CaseState.SCHEDULED.value, CaseState.VISITING.value)
    # by verifier, so a task builds few verifiers' access
    live = visits_repo.live_readers(session, now, states, not_planned_after=ctx.as_of)
    readers = sorted((user.id, case) for user, case in live)
    broker = Broker.from_settings(settings)
    if broker is None:
        prepared, skipped = dossier.prepare_dossiers(
            session,
            readers,
            zone=settings.zone,
            cache_dir=dossier.cache_folder(settings.var_dir),
            now=now,
            policy=offers.policy_from(settings),
            cipher=personal_data_keys(settings)[0],
        )
        return {"prepared": prepared, "skipped": skipped}
    chunks = [readers[i : i + DOSSIERS_PER_TASK] for i in range(0, len(readers), DOSSIERS_PER_TASK)]
    labels = [f"dossiers {c[0][0]}/{c[0][1]}…" for c in chunks]
    results = reported("dossiers", labels, broker.run_group(DOSSIERS_TASK, [(c,) for c in chunks]))
    return {
        "prepared": sum(int(r["prepared"]) for r in results),
        "skipped": sum(int(r["skipped"]) for r in results),
        "tasks": len(chunks),
    }


PLAN_TASK = "doorstep.plan_city"


def _planning(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """A draft plan for the next day per city with teams and ready cases (one task per
    city on the workers when there are some); published when ``batch_publish_plans``
    says so. A city that has a plan for that day already (draft or published) is left
    alone, so a rerun adds nothing."""
    day = ctx.as_of + timedelta(days=1)
    cfg = visit_plans.PlanConfig.from_settings(ctx.settings)
    unplanned = batch_repo.team_cities(session) - plans_repo.cities_planned(session, day)
    cities = sorted(plans_repo.cities_with_ready_cases(session, unplanned))
    broker = Broker.from_settings(ctx.settings)
    if broker:
        outcomes = broker.run_group(PLAN_TASK, [(day.isoformat(), city) for city in cities])
        made = [
            session.get_one(VisitPlan, int(r["plan"]))
            for r in reported("planning", cities, outcomes)
        ]
    else:
        made = [visit_plans.run_plan(session, SYSTEM, day, city, cfg) for city in cities]
    counts = {"plans": len(made), "published": 0, "stops": 0}
    for plan in made:
        counts["stops"] += sum(s.team_id is not None for s in plans_repo.stops(session, plan.id))
        if ctx.settings.batch_publish_plans and plan.state == "draft":
            # a batch catching up on a past day publishes as of that day's start
            now = min(ctx.clock.now(), cfg.midnight(day).astimezone(UTC))
            visit_plans.publish(session, SYSTEM, plan.id, cfg, version=plan.version, now=now)
            counts["published"] += 1
    return counts


EXPORT_TASK = "doorstep.export_feedback"


def _exports(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """The lender's feedback file of the day before (verdicts last changed that day; by
    the morning's batch the day is over), beside the API and the webhooks; on a worker
    when there are some. A rerun rewrites the same file."""
    day = ctx.as_of - timedelta(days=1)
    broker = Broker.from_settings(ctx.settings)
    if broker:
        outcomes = broker.run_group(EXPORT_TASK, [(day.isoformat(),)])
        [result] = reported("exports", [f"feedback {day}"], outcomes)
        return {"feedback_rows": int(result["rows"])}
    folder = ctx.settings.var_dir / "exports"
    _, rows = feedback.write_daily_file(session, day, ctx.settings.zone, folder)
    return {"feedback_rows": rows}


def webhook_retry_policy(settings: Settings) -> feedback.RetryPolicy:
    """How often and how long a webhook delivery is tried, from the settings."""
    return feedback.RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        timeout=settings.webhook_timeout_seconds,
        backoff=settings.webhook_backoff_seconds,
        backoff_max=settings.webhook_backoff_max_seconds,
        destinations=webhook_destinations(settings),
    )


def webhook_destinations(settings: Settings) -> feedback.Destinations:
    """Where webhooks may go: https to public addresses, unless the operator allows more."""
    return feedback.Destinations(allow_private=settings.webhook_allow_private)


def _deliveries(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """One pass of webhook deliveries. They commit in their own short transactions (never
    inside this one): a delivery row per event and endpoint, marked delivered when the
    lender answered, so a rerun after a crash posts only what is still due."""
    config = ctx.settings
    broker = Broker.from_settings(config)
    if broker:  # the relay's sweep: the workers post, each delivery once
        due = feedback.due_deliveries(session, ctx.clock.now())
        if due:
            outbox.broker_publisher(broker)(due)
        return {"published": len(due)}
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cipher = personal_data_keys(config)[0]
    run = feedback.deliver_due(engine, cipher, webhook_retry_policy(config), clock=ctx.clock)
    return {"claimed": run.claimed, "delivered": run.delivered, "dead": run.dead}


def _checkpoint(session: Session, ctx: DayContext) -> Mapping[str, Any]:
    """A signed checkpoint of the audit chain's head in the file outside the database,
    once the chain since the previous one is checked (a broken chain fails the step)."""
    path = ctx.settings.audit_checkpoint_file
    mark = audit_checks.checkpoint(session, SYSTEM, audit.keys_of(session), path, ctx.clock.now())
    return {"event": mark.event_id, "events": mark.count}


DEFAULT_STEPS: tuple[Step, ...] = (
    Step("ingest", _ingest),
    Step("delinquency", _delinquency),
    Step("promises", _promises),
    Step("scoring", _scoring),
    Step("figures", _figures),
    Step("selection", _selection),
    Step("planning", _planning),
    Step("dossiers", _dossiers),
    Step("exports", _exports),
    Step("deliveries", _deliveries),
    Step("checkpoint", _checkpoint),
)


def _open_run(engine: Engine, as_of: date, steps: Sequence[Step], force: bool, clock: Clock) -> int:
    """The day's run, opened (or reopened) with a row per step; a step already done stays
    done unless `force`."""
    with transaction(engine) as session:
        run = batch_repo.run_of_day(session, as_of)
        if run is None:
            run = BatchRun(as_of=as_of, state="running", attempts=1, started_at=clock.now())
            session.add(run)
            session.flush()
        else:
            run.state, run.finished_at, run.attempts = "running", None, run.attempts + 1
        known = batch_repo.steps_by_name(session, run.id)
        for seq, step in enumerate(steps, start=1):
            row = known.get(step.name)
            if row is None:
                session.add(BatchStep(run_id=run.id, seq=seq, name=step.name, state="pending"))
            elif force or row.state != "done":
                row.state, row.error = "pending", None
        return run.id


def _set_step(session: Session, run_id: int, name: str, **values: Any) -> None:
    row = batch_repo.step_of_run(session, run_id, name)
    for key, value in values.items():
        setattr(row, key, value)


def _set_run(engine: Engine, run_id: int, state: str, clock: Clock) -> None:
    with transaction(engine) as session:
        run = session.get_one(BatchRun, run_id)
        run.state = state
        run.finished_at = clock.now() if state in {"done", "failed"} else None


def run_day(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    steps: Sequence[Step] = DEFAULT_STEPS,
    force: bool = False,
    progress: Progress | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
    clock: Clock | None = None,
) -> list[StepOutcome]:
    """Run (or finish) the day's batch; returns what each step did. `clock` stamps the
    runs, the steps and what they write (None: the system clock)."""
    context = DayContext(as_of, settings, progress, clock or SystemClock())
    outcomes: list[StepOutcome] = []
    with day_lock(engine, as_of, settings.var_dir / "locks"):
        run_id = _open_run(engine, as_of, steps, force, context.clock)
        for step in steps:
            if _start_step(engine, run_id, step.name, context.clock):
                outcome = _run_step(engine, run_id, step, context)
            else:
                outcome = StepOutcome(step.name, "skipped")
            outcomes.append(outcome)
            if on_step:
                on_step(outcome)
        _set_run(engine, run_id, "done", context.clock)
    return outcomes


def _start_step(engine: Engine, run_id: int, name: str, clock: Clock) -> bool:
    """Mark the step running, unless it is done already (then False: it is skipped)."""
    with transaction(engine) as session:
        if batch_repo.step_state(session, run_id, name) == "done":
            return False
        _set_step(session, run_id, name, state="running", started_at=clock.now(), finished_at=None)
        return True


def _run_step(engine: Engine, run_id: int, step: Step, context: DayContext) -> StepOutcome:
    started = time.perf_counter()
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
                finished_at=context.clock.now(),
                error=None,
            )
    except Exception as exc:
        with transaction(engine) as session:
            _set_step(
                session,
                run_id,
                step.name,
                state="failed",
                finished_at=context.clock.now(),
                error="".join(traceback.format_exception_only(exc)).strip()[:2000],
            )
        _set_run(engine, run_id, "failed", context.clock)
        raise
    return StepOutcome(step.name, "done", counts, time.perf_counter() - started)


def runs(session: Session, limit: int = 30) -> list[tuple[BatchRun, list[BatchStep]]]:
    """The latest runs with their steps, newest first (for the batch page)."""
    return batch_repo.latest_runs(session, limit)
