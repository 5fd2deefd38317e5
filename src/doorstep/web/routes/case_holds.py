"""The case page's forms about the customer's holds: open a dispute, answer it, lift a
hold a manager may lift, override the visit interval (`services.cases.dispute_desk`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.cases import dispute_desk
from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.web.forms import act

router = APIRouter(include_in_schema=False)
Note = Annotated[str, Form(min_length=1, max_length=2000)]


def _on_holds(
    request: Request, actor: Actor, session: Session, case_id: int, step: Callable[[], object]
) -> Response:
    """Take the step as the person, then back to the case page's holds panel (the error in
    words there if it was refused)."""
    request.state.actor = actor
    page = f"/cases/{case_id}#holds"
    return act(request, session, step, page, back=page)


@router.post("/cases/{case_id}/disputes")
def open_dispute(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    kind: Annotated[DisputeKind, Form()],
    note: Note,
) -> Response:
    now = state.clock.now()
    return _on_holds(
        request,
        actor,
        session,
        case_id,
        lambda: dispute_desk.open_for_case(session, actor, case_id, kind, note, now),
    )


@router.post("/cases/{case_id}/disputes/{hold_id}/resolve")
def resolve_dispute(
    case_id: RowId,
    hold_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    outcome: Annotated[DisputeOutcome, Form()],
    note: Note,
) -> Response:
    now = state.clock.now()
    return _on_holds(
        request,
        actor,
        session,
        case_id,
        lambda: dispute_desk.resolve(session, actor, hold_id, outcome, note, now),
    )


@router.post("/cases/{case_id}/holds/{hold_id}/lift")
def lift_hold(
    case_id: RowId,
    hold_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    reason: Note,
) -> Response:
    now = state.clock.now()
    return _on_holds(
        request,
        actor,
        session,
        case_id,
        lambda: dispute_desk.lift(session, actor, case_id, hold_id, reason, now),
    )


@router.post("/cases/{case_id}/visit-interval-override")
def override_interval(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    reason: Note,
) -> Response:
    now, pack = state.clock.now(), state.settings.rules_pack
    return _on_holds(
        request,
        actor,
        session,
        case_id,
        lambda: dispute_desk.override_interval(session, actor, case_id, reason, pack=pack, now=now),
    )
