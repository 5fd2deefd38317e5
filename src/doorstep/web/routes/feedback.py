"""Pages for feedback to the lender: the dossier PDF of a case and the webhook dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.lender import feedback
from doorstep.services.lender.dossier import cache_folder, dossier_pdf
from doorstep.services.repayment import offers
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/dossier.pdf", response_model=None)
def dossier(
    case_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    try:
        document = dossier_pdf(
            session,
            actor,
            case_id,
            zone=state.settings.zone,
            now=state.clock.now(),
            cipher=state.cipher,
            cache_dir=cache_folder(state.settings.var_dir),
            policy=offers.policy_from(state.settings),
        )
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc)
    session.commit()  # the audit event of who printed it
    return Response(
        document,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="dossier-{case_id}.pdf"',
            "Cache-Control": "no-store",  # personal data: never kept by a proxy or browser
        },
    )


@router.get("/feedback/dead-letters", response_class=HTMLResponse)
def dead_letters(request: Request, actor: CurrentActor, session: DbSession) -> HTMLResponse:
    request.state.actor = actor
    try:
        letters = feedback.dead_letters(session, actor)
    except DoorstepError as exc:
        return error_page(request, exc)
    endpoints = feedback.list_endpoints(session)
    return render(request, "feedback/dead_letters.html", letters=letters, endpoints=endpoints)


@router.post("/feedback/dead-letters/{delivery_id}/retry")
def retry(
    delivery_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    page = "/feedback/dead-letters"
    now = state.clock.now()
    return act(
        request,
        session,
        lambda: feedback.retry_dead(session, actor, delivery_id, now=now),
        page,
        back=page,
    )
