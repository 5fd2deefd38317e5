"""Bulk reveals of national IDs: up to the pack's threshold at once, more after another
manager's or an auditor's approval (`services.cases.bulk_reveal`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from doorstep.api.schemas.reveals import (
    BulkRevealIn,
    BulkRevealOut,
    DecisionIn,
    RevealRequestOut,
)
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.context import request_id as http_request_id
from doorstep.http.params import RowId
from doorstep.services.cases import bulk_reveal

router = APIRouter(prefix="/api/reveal-requests", tags=["personal data"])


@router.post(
    "",
    response_model=BulkRevealOut,
    responses={202: {"model": BulkRevealOut, "description": "waits for a second approver"}},
)
def ask(
    body: BulkRevealIn,
    request: Request,
    response: Response,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> BulkRevealOut:
    outcome = bulk_reveal.request_reveal(
        session,
        actor,
        state.cipher,
        body.case_ids,
        purpose=body.purpose,
        reason=body.reason,
        pack=state.settings.rules_pack,
        now=state.clock.now(),
        request_id=http_request_id(request),
    )
    session.commit()
    if outcome.request is not None:
        response.status_code = 202
        return BulkRevealOut(status="pending", request=RevealRequestOut.of(outcome.request))
    return BulkRevealOut(status="revealed", values=outcome.values or {})


@router.get("", response_model=list[RevealRequestOut])
def waiting(actor: CurrentActor, session: DbSession) -> list[RevealRequestOut]:
    """The pending requests the caller may decide."""
    bulk_reveal.require_decider(actor)
    return [RevealRequestOut.of(r) for r in bulk_reveal.waiting_for(session, actor)]


@router.post("/{request_id}/decision", response_model=RevealRequestOut)
def decide(
    request_id: RowId, body: DecisionIn, actor: CurrentActor, session: DbSession, state: State
) -> RevealRequestOut:
    row = bulk_reveal.decide(
        session,
        actor,
        request_id,
        approve=body.approve,
        note=body.note,
        pack=state.settings.rules_pack,
        now=state.clock.now(),
    )
    session.commit()
    return RevealRequestOut.of(row)


@router.post("/{request_id}/reveal", response_model=BulkRevealOut)
def use(
    request_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> BulkRevealOut:
    """The requester's national IDs of an approved request (once, while it lasts)."""
    values = bulk_reveal.use(
        session,
        actor,
        state.cipher,
        request_id,
        pack=state.settings.rules_pack,
        now=state.clock.now(),
        http_request_id=http_request_id(request),
    )
    session.commit()
    return BulkRevealOut(status="revealed", values=values)
