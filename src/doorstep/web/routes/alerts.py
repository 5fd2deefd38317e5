"""The alerts page, the inbox of supervisors and auditors: safety alerts (a visit not
checked out in time, an SOS), alerts about reveals of personal data, and the bulk
reveal requests waiting for a second approver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services import visits
from doorstep.services.cases import bulk_reveal
from doorstep.services.visits import alerts
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    rules = visits.VisitRules.from_settings(state.settings)
    try:
        rows = alerts.open_alerts(session, actor)
        if alerts.raise_overdue_checkouts(session, state.clock.now(), rules.checkout_after):
            session.commit()
            rows = alerts.open_alerts(session, actor)
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc, back="/cases")
    waiting = bulk_reveal.waiting_for(session, actor)
    where = alerts.alert_positions(rows, state.cipher)
    return render(
        request, "visits/alerts.html", rows=rows, where=where, requests=waiting, zone=rules.zone
    )


@router.post("/alerts/{alert_id}/resolve")
def alert_resolve(
    alert_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: alerts.resolve(session, actor, alert_id, note, state.clock.now()),
        "/alerts",
        back="/alerts",
    )


@router.post("/reveal-requests/{request_id}/decide")
def reveal_request_decide(
    request_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    decision: Annotated[str, Form(pattern="^(approve|refuse)$")],
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Another manager or an auditor approves or refuses a bulk reveal request."""
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: bulk_reveal.decide(
            session,
            actor,
            request_id,
            approve=decision == "approve",
            note=note,
            pack=state.settings.rules_pack,
            now=state.clock.now(),
        ),
        "/alerts",
        back="/alerts",
    )
