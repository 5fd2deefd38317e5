"""Privacy requests over JSON for the compliance staff's tools: list (with deadlines and
overdue), one request, receive one, take a step. The copy of an access request is a
page download or `doorstep privacy export`, not JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from doorstep.api.schemas.privacy import (
    PrivacyActionIn,
    PrivacyRequestIn,
    PrivacyRequestOut,
    PrivacyRequestPage,
)
from doorstep.domain.privacy import overdue
from doorstep.http.context import AppState, CurrentActor, DbSession, State
from doorstep.services.conduct import privacy
from doorstep.store.models import PrivacyRequest

router = APIRouter(prefix="/api/privacy/requests", tags=["privacy"])
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _out(request: PrivacyRequest, state: AppState) -> PrivacyRequestOut:
    today = state.clock.now().astimezone(state.settings.zone).date()
    return PrivacyRequestOut.of(request, overdue(request.state, request.due_on, today))


@router.get("", response_model=PrivacyRequestPage)
def list_requests(
    actor: CurrentActor,
    session: DbSession,
    state: State,
    everything: Annotated[bool, Query(alias="all")] = False,
) -> PrivacyRequestPage:
    today = state.clock.now().astimezone(state.settings.zone).date()
    rows = privacy.listing(session, actor, today, everything=everything)
    return PrivacyRequestPage(items=[PrivacyRequestOut.of(r.request, r.overdue) for r in rows])


@router.get("/{request_id}", response_model=PrivacyRequestOut)
def get_request(
    request_id: RequestId, actor: CurrentActor, session: DbSession, state: State
) -> PrivacyRequestOut:
    return _out(privacy.get_request(session, actor, request_id), state)


@router.post("", response_model=PrivacyRequestOut, status_code=201)
def file_request(
    body: PrivacyRequestIn, actor: CurrentActor, session: DbSession, state: State
) -> PrivacyRequestOut:
    new = privacy.NewRequest(
        body.subject,
        body.kind,
        body.received_via,
        body.customer_id,
        body.phone,
        body.name,
        body.details,
    )
    policy = privacy.policy_of(state.settings, state.cipher, state.hasher)
    request = privacy.file_request(session, actor, new, policy=policy, now=state.clock.now())
    session.commit()
    return _out(request, state)


@router.post("/{request_id}/actions", response_model=PrivacyRequestOut)
def take_step(
    request_id: RequestId,
    body: PrivacyActionIn,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> PrivacyRequestOut:
    request = privacy.take(
        session,
        actor,
        request_id,
        body.action,
        policy=privacy.policy_of(state.settings, state.cipher, state.hasher),
        now=state.clock.now(),
        identified_by=body.identified_by,
        text=body.text,
        version=body.version,
    )
    session.commit()
    return _out(request, state)
