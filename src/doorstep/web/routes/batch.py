"""The batch page: the latest daily runs with their steps, and a button that runs (or
resumes) the day's batch through `services.daily.run_day`, as `doorstep batch run` does.

The run goes on in a background thread (a day's batch may take minutes); the page asks
for the day's lock first so a run already going answers at once with "already running"
(a run that slips past that check meets the same lock in `run_day` and stops cleanly).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import BatchAlreadyRunning, DoorstepError, Forbidden
from doorstep.domain.money import format_yuan
from doorstep.domain.ports import Clock
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services import restatements
from doorstep.services.batch.daily import run_day, runs
from doorstep.services.batch.lock import day_lock
from doorstep.services.conduct import audit
from doorstep.store.models import BatchRun, BatchStep, SnapshotRestatement
from doorstep.web.forms import act, day_field, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def _allowed(actor: Actor) -> None:
    if not actor.can(Permission.RUN_BATCHES):
        raise Forbidden("your role cannot run batches", message_zh="您的角色无权运行批处理")


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _seconds(start: datetime | None, end: datetime | None) -> str:
    return f"{(end - start).total_seconds():.1f}" if start and end else ""


def _fields(values: dict[str, Any]) -> str:
    """A snapshot's changed fields as `name=value`, money in yuan."""
    return ", ".join(
        f"{k}={v if k in ('dpd', 'bucket') else format_yuan(v)}" for k, v in values.items()
    )


def _restated(found: tuple[int, list[SnapshotRestatement]] | None) -> dict[str, Any] | None:
    """The snapshots a run restated (how many, the first ones), as the page shows them."""
    if found is None:
        return None
    total, rows = found
    shown = [
        {
            "loan_id": r.loan_id,
            "as_of": r.as_of.isoformat(),
            "before": _fields(r.before),
            "after": _fields(r.after),
            "changed_from": r.changed_from.isoformat(),
            "batches": ", ".join(f"#{b}" for b in r.import_batches) or "-",
        }
        for r in rows
    ]
    return {"total": total, "rows": shown}


def _view(
    run: BatchRun,
    steps: list[BatchStep],
    zone: ZoneInfo,
    restated: tuple[int, list[SnapshotRestatement]] | None = None,
) -> dict[str, Any]:
    return {
        "as_of": run.as_of.isoformat(),
        "state": run.state,
        "attempts": run.attempts,
        "started": _local(run.started_at, zone),
        "finished": _local(run.finished_at, zone),
        "duration": _seconds(run.started_at, run.finished_at),
        "steps": [
            {
                "name": s.name,
                "state": s.state,
                "started": _local(s.started_at, zone),
                "finished": _local(s.finished_at, zone),
                "duration": _seconds(s.started_at, s.finished_at),
                "counts": ", ".join(f"{k}={v}" for k, v in (s.counts or {}).items()),
                "error": s.error or "",
            }
            for s in steps
        ],
        "restated": _restated(restated),
    }


@router.get("/batch", response_class=HTMLResponse)
def batch_page(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> HTMLResponse:
    request.state.actor = actor
    try:
        _allowed(actor)
    except DoorstepError as exc:
        return error_page(request, exc)
    zone = state.settings.zone
    latest = runs(session)
    restated = restatements.of_runs(session, [run.as_of for run, _ in latest])
    shown = [_view(run, steps, zone, restated.get(run.as_of)) for run, steps in latest]
    return render(
        request,
        "batch/index.html",
        runs=shown,
        running=any(r["state"] == "running" for r in shown),
        today=state.clock.now().astimezone(zone).date().isoformat(),
        started=request.query_params.get("started"),
    )


def _run_in_background(
    engine: Engine, settings: Settings, day: date, force: bool, clock: Clock
) -> None:
    try:
        run_day(engine, settings, day, force=force, clock=clock)
    except BatchAlreadyRunning:
        log.info("batch for %s: another run holds the day's lock", day)
    except Exception:  # recorded on the step by run_day; the thread must not die noisily
        log.exception("batch for %s failed", day)


@router.post("/batch/run")
def start_batch(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    as_of: Annotated[str, Form()],
    force: Annotated[bool, Form()] = False,
) -> Response:
    request.state.actor = actor
    settings = state.settings

    def check() -> date:
        _allowed(actor)
        day = day_field(as_of, "as_of")
        with day_lock(state.engine, day, settings.var_dir / "locks"):
            pass  # free now: no run of the day is going
        audit.record(session, actor, "batch.run", "batch_run", day.isoformat(), {"force": force})
        return day

    def start(day: date) -> str:  # after the commit: no run goes without its audit event
        threading.Thread(
            target=_run_in_background,
            args=(state.engine, settings, day, force, state.clock),
            name=f"batch-{day}",
            daemon=True,
        ).start()
        return f"/batch?started={day.isoformat()}"

    return act(request, session, check, start, back="/batch")
