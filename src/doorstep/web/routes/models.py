"""The analyst's model pages: the registry, and one version's metrics, calibration,
feature importance, population stability and fairness report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.access import Permission
from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, app_state
from doorstep.http.params import RowId
from doorstep.scoring.behaviour import FEATURES
from doorstep.scoring.monitoring import FLAG_ABOVE, WATCH_ABOVE
from doorstep.services import scoring
from doorstep.web.forms import act, error_page
from doorstep.web.i18n import language_of
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
_LABELS = {f.name: f for f in FEATURES}


def _label(name: str, language: str) -> str:
    feature = _LABELS.get(name)
    return feature.label(language) if feature is not None else name


def _calibration_points(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Decile points on a 240-pixel square (origin bottom left) for the inline SVG."""
    out = []
    for r in rows:
        p, o = r.get("predicted"), r.get("observed")
        if p is None or o is None:
            continue
        out.append({"x": 40 + 240 * float(p), "y": 260 - 240 * float(o), **r})
    return out


@router.get("/models", response_class=HTMLResponse)
def model_list(request: Request, actor: CurrentActor, session: DbSession) -> HTMLResponse:
    request.state.actor = actor
    try:
        versions = scoring.list_models(session, actor)
    except DoorstepError as exc:
        return error_page(request, exc, back="/cases")
    return render(request, "models/list.html", versions=versions)


@router.get("/models/{version_id}", response_class=HTMLResponse)
def model_page(
    version_id: RowId, request: Request, actor: CurrentActor, session: DbSession
) -> HTMLResponse:
    request.state.actor = actor
    try:
        view = scoring.model_view(session, actor, version_id)
    except DoorstepError as exc:
        return error_page(request, exc, back="/models")
    language = language_of(request)
    metrics = view.version.metrics or {}
    importance = list((metrics.get("importance") or {}).items())
    top = max((abs(v) for _, v in importance), default=0.0) or 1.0
    return render(
        request,
        "models/detail.html",
        v=view.version,
        m=metrics,
        view=view,
        calibration=_calibration_points(metrics.get("calibration") or []),
        importance=[
            {"name": n, "label": _label(n, language), "value": val, "width": 100 * abs(val) / top}
            for n, val in importance
        ],
        drift=[
            {
                "name": d.name,
                "label": _label(d.name, language),
                "psi": d.psi,
                "flagged": d.flagged,
                "watch": WATCH_ABOVE < d.psi <= FLAG_ABOVE,
            }
            for d in view.drift
        ],
        flag_above=FLAG_ABOVE,
        can_activate=actor.can(Permission.TRAIN_MODELS),
    )


@router.post("/models/{version_id}/activate")
def activate_model(
    version_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    reason: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    now = app_state(request).clock.now()
    return act(
        request,
        session,
        lambda: scoring.activate(
            session, actor, version_id, now=now, reason=(reason or "").strip() or None
        ),
        f"/models/{version_id}",
        back=f"/models/{version_id}",
    )
