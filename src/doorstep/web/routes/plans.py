"""The manager's planning page: run a plan for a city and day, see the routes on a map,
move or lock stops, re-optimise, publish, replan during the day."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from doorstep.domain.bounds import INT32
from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services import visit_plans
from doorstep.services.visit_plans import PlanConfig
from doorstep.web.forms import act, day_field, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _config(state: State) -> PlanConfig:
    return PlanConfig.from_settings(state.settings, cipher=state.cipher)


def _on_plan(
    request: Request, session: DbSession, plan_id: int, work: Callable[[], object]
) -> Response:
    """A change to a plan: back to its page, or a refusal with a link to it."""
    return act(request, session, work, f"/plans/{plan_id}", back=f"/plans/{plan_id}")


@router.get("/plans", response_class=HTMLResponse)
def plan_index(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> HTMLResponse:
    request.state.actor = actor
    try:
        recent = visit_plans.plans_for(session, actor)
    except DoorstepError as exc:
        return error_page(request, exc)
    cities = visit_plans.plan_cities(session, actor)
    tomorrow = state.clock.now().astimezone(state.settings.zone).date() + timedelta(days=1)
    return render(
        request,
        "plans/index.html",
        plans=recent,
        cities=cities,
        day=tomorrow.isoformat(),
        seconds=state.settings.plan_seconds,
        max_seconds=f"{state.settings.plan_max_seconds:g}",
    )


@router.post("/plans")
def plan_run(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    city: Annotated[str, Form(max_length=32)],
    day: Annotated[str, Form(max_length=10)],
    seconds: Annotated[float | None, Form(gt=0, le=24 * 3600, allow_inf_nan=False)] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: visit_plans.run_plan(
            session, actor, day_field(day, "date"), city, _config(state), seconds=seconds
        ),
        lambda plan: f"/plans/{plan.id}",
        back="/plans",
    )


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(
    plan_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> HTMLResponse:
    request.state.actor = actor
    try:
        view = visit_plans.plan_view(session, actor, plan_id, _config(state))
    except DoorstepError as exc:
        return error_page(request, exc, back="/plans")
    # JSON for the map script, safe inside <script type="application/json">.
    geo = json.dumps(view.map, ensure_ascii=False).replace("<", "\\u003c")
    return render(
        request,
        "plans/detail.html",
        v=view,
        p=view.plan,
        geo=Markup(geo),
        planned=sum(len(r.stops) for r in view.routes),
        tiles=state.settings.map_tile_url,
    )


@router.post("/plans/{plan_id}/move")
def plan_move(
    plan_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    stop_id: Annotated[int, Form(ge=1, le=INT32)],
    team_id: Annotated[int, Form(ge=1, le=INT32)],
    version: Annotated[int, Form(ge=0, le=INT32)],
) -> Response:
    request.state.actor = actor
    return _on_plan(
        request,
        session,
        plan_id,
        lambda: visit_plans.move_stop(
            session, actor, plan_id, stop_id, team_id, _config(state), version=version
        ),
    )


@router.post("/plans/{plan_id}/lock")
def plan_lock(
    plan_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    stop_id: Annotated[int, Form(ge=1, le=INT32)],
    locked: Annotated[bool, Form()],
    version: Annotated[int, Form(ge=0, le=INT32)],
) -> Response:
    request.state.actor = actor
    return _on_plan(
        request,
        session,
        plan_id,
        lambda: visit_plans.lock_stop(
            session, actor, plan_id, stop_id, locked=locked, version=version
        ),
    )


@router.post("/plans/{plan_id}/reoptimise")
def plan_reoptimise(
    plan_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    version: Annotated[int, Form(ge=0, le=INT32)],
    # the upper bound in words is the planner's setting (visit_plans.config); this one only
    # keeps nonsense (inf, nan) out
    seconds: Annotated[float | None, Form(gt=0, le=24 * 3600, allow_inf_nan=False)] = None,
) -> Response:
    request.state.actor = actor
    return _on_plan(
        request,
        session,
        plan_id,
        lambda: visit_plans.reoptimise(
            session, actor, plan_id, _config(state), version=version, seconds=seconds
        ),
    )


@router.post("/plans/{plan_id}/publish")
def plan_publish(
    plan_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    version: Annotated[int, Form(ge=0, le=INT32)],
) -> Response:
    request.state.actor = actor
    return _on_plan(
        request,
        session,
        plan_id,
        lambda: visit_plans.publish(
            session, actor, plan_id, _config(state), version=version, now=state.clock.now()
        ),
    )


@router.post("/plans/{plan_id}/replan")
def plan_replan(
    plan_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: visit_plans.replan(session, actor, plan_id, _config(state), now=state.clock.now()),
        lambda new: f"/plans/{new.id}",
        back=f"/plans/{plan_id}",
    )
