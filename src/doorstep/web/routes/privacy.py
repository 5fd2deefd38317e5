"""Privacy-request pages for the compliance staff: the list with each deadline (overdue
ones highlighted) and a form to receive a request, and one request with its steps and
the download of an access request's copy."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.access import Actor
from doorstep.domain.bounds import INT32
from doorstep.domain.errors import DoorstepError, InvalidValue
from doorstep.domain.privacy import Identified, ReceivedVia, RequestKind, Subject
from doorstep.http.context import AppState, CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.conduct import privacy
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
E = TypeVar("E", bound=StrEnum)
STAFF_IDENTIFIED = [i.value for i in Identified if i is not Identified.PORTAL_SIGN_IN]


def _policy(state: AppState) -> privacy.Policy:
    return privacy.policy_of(state.settings, state.cipher, state.hasher)


def _today(state: AppState) -> date:
    return state.clock.now().astimezone(state.settings.zone).date()


def _choice(kind: type[E], text: str, field: str) -> E:
    try:
        return kind(text)
    except ValueError:
        raise InvalidValue(
            f"{field}: not a choice: {text[:40]!r}", message_zh=f"{field}：无效的选项"
        ) from None


@router.get("/privacy", response_class=HTMLResponse)
def requests_page(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    show: str | None = None,
) -> HTMLResponse:
    request.state.actor = actor
    try:
        rows = privacy.listing(session, actor, _today(state), everything=show == "all")
    except DoorstepError as exc:
        return error_page(request, exc)
    return render(
        request,
        "privacy/list.html",
        rows=rows,
        show=show,
        days=state.settings.privacy_request_days,
        subjects=[s.value for s in Subject],
        kinds=[k.value for k in RequestKind],
        channels=[v.value for v in ReceivedVia if v is not ReceivedVia.PORTAL],
    )


@router.post("/privacy", response_model=None)
def file_request(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    subject: Annotated[str, Form(max_length=16)],
    kind: Annotated[str, Form(max_length=24)],
    received_via: Annotated[str, Form(max_length=16)],
    customer_id: Annotated[str, Form(max_length=64)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    details: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    request.state.actor = actor

    def work() -> int:
        new = privacy.NewRequest(
            _choice(Subject, subject, "subject"),
            _choice(RequestKind, kind, "kind"),
            _choice(ReceivedVia, received_via, "received_via"),
            customer_id.strip() or None,
            phone.strip() or None,
            name.strip() or None,
            details.strip() or None,
        )
        return privacy.file_request(
            session, actor, new, policy=_policy(state), now=state.clock.now()
        ).id

    return act(request, session, work, lambda request_id: f"/privacy/{request_id}", back="/privacy")


def _detail(
    request: Request, actor: Actor, session: DbSession, state: State, request_id: RowId
) -> HTMLResponse:
    shown = privacy.view(session, actor, request_id, state.cipher, _today(state))
    return render(
        request,
        "privacy/detail.html",
        shown=shown,
        r=shown.request,
        zone=state.settings.zone,
        identified=STAFF_IDENTIFIED,
    )


@router.get("/privacy/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request, request_id: RowId, actor: CurrentActor, session: DbSession, state: State
) -> HTMLResponse:
    request.state.actor = actor
    try:
        return _detail(request, actor, session, state, request_id)
    except DoorstepError as exc:
        return error_page(request, exc, back="/privacy")


@router.post("/privacy/{request_id}/export", response_model=None)
def export_copy(
    request: Request, request_id: RowId, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    """The copy as a download; the commit records that it was made (and its SHA-256)."""
    request.state.actor = actor
    try:
        name, document = privacy.export(
            session,
            actor,
            request_id,
            cipher=state.cipher,
            store=_policy(state).stores.evidence,
            now=state.clock.now(),
        )
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc, back=f"/privacy/{request_id}")
    session.commit()
    return Response(
        document,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/privacy/{request_id}/{action}", response_model=None)
def take_step(
    request: Request,
    request_id: RowId,
    action: str,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    version: Annotated[int | None, Form(ge=0, le=INT32)] = None,
    identified_by: Annotated[str, Form(max_length=24)] = "",
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    request.state.actor = actor
    back = f"/privacy/{request_id}"
    return act(
        request,
        session,
        lambda: privacy.take(
            session,
            actor,
            request_id,
            action,
            policy=_policy(state),
            now=state.clock.now(),
            identified_by=identified_by or None,
            text=text or None,
            version=version,
        ),
        back,
        back=back,
    )
