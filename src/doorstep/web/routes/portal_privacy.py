"""The borrower portal's privacy page: after sign-in a borrower asks to see, correct or
delete their data, or withdraws consent, and sees where each request stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.domain.errors import InvalidValue
from doorstep.domain.privacy import RequestKind
from doorstep.http.context import DbSession, State
from doorstep.services.conduct import privacy
from doorstep.services.repayment.offers import borrower_actor
from doorstep.web.routes.portal import _now, _page, _show, _submit

router = APIRouter(include_in_schema=False)


def _form(
    request: Request, session: Session, customer_id: str, status: int, error: str | None
) -> HTMLResponse:
    return _page(
        request,
        "portal/privacy.html",
        status,
        error=error,
        kinds=[k.value for k in RequestKind],
        requests=privacy.requests_of_borrower(session, customer_id),
    )


@router.get("/portal/privacy", response_class=HTMLResponse, response_model=None)
def privacy_page(request: Request, session: DbSession) -> Response:
    return _show(request, session, _form)


@router.post("/portal/privacy", response_model=None)
def ask(
    request: Request,
    session: DbSession,
    state: State,
    kind: Annotated[str, Form(max_length=24)],
    details: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def file(customer_id: str) -> object:
        try:
            chosen = RequestKind(kind)
        except ValueError:
            raise InvalidValue("kind: not a choice", message_zh="kind：无效的选项") from None
        return privacy.file_from_portal(
            session,
            borrower_actor(customer_id),
            customer_id,
            chosen,
            details,
            policy=privacy.policy_of(state.settings, state.cipher, state.hasher),
            now=_now(request),
        )

    return _submit(request, session, _form, "privacy", file)
