"""The managers' work list: open tasks (skip-trace sources, next steps, promise
follow-ups) with owner, due day and overdue flag, and the verdicts awaiting review with
the days they have waited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.cases import tasks
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(request: Request, actor: CurrentActor, session: DbSession, state: State) -> Response:
    request.state.actor = actor
    now, zone = state.clock.now(), state.settings.zone
    try:
        rows = tasks.task_list(session, actor, now.astimezone(zone).date())
        waiting = tasks.review_queue(session, actor, now, zone)
    except DoorstepError as exc:
        return error_page(request, exc, back="/cases")
    return render(request, "tasks/list.html", rows=rows, waiting=waiting)


@router.post("/tasks/{task_id}/done")
def task_done(
    task_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    result: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: tasks.complete(session, actor, task_id, result, state.clock.now()),
        "/tasks",
        back="/tasks",
    )
