"""The borrower's repayment plans under /portal: compare the offered plans, choose one, read
its agreement (PDF, zh_CN and en), confirm it with a one-time code sent to their mobile
(which accepts the plan), and download it afterwards. Only the signed-in borrower's own
offers and agreements are ever found."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from doorstep.domain.errors import DoorstepError, InvalidValue, SignInRefused
from doorstep.http.context import DbSession, State, app_state, client_address
from doorstep.http.params import RowId
from doorstep.services.repayment import agreements, offers, portal
from doorstep.web.i18n import language_of
from doorstep.web.routes.portal import (
    SIGN_IN,
    _borrower,
    _now,
    _page,
    _show,
    _status,
    _text,
    _today,
    sender,
)

router = APIRouter(include_in_schema=False)


def _plans(
    request: Request, session: Session, customer_id: str, status: int, error: str | None
) -> HTMLResponse:
    return _page(
        request,
        "portal/plans.html",
        status,
        error=error,
        offers=[
            (o, offers.options_of(o))
            for o in portal.open_offers(session, customer_id, _now(request))
        ],
    )


@router.get("/portal/plans", response_class=HTMLResponse, response_model=None)
def plans_page(request: Request, session: DbSession) -> Response:
    return _show(request, session, _plans)


@router.post("/portal/plans/accept", response_model=None)
def choose(
    request: Request,
    session: DbSession,
    state: State,
    offer_id: Annotated[str, Form(max_length=12)],
    plan: Annotated[str, Form(max_length=120)],
) -> Response:
    """The chosen plan's agreement, to read and confirm (nothing is accepted yet)."""
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN

    def prepare() -> int:
        if not (offer_id.isascii() and offer_id.isdigit()):  # "²" is a digit to isdigit
            raise InvalidValue("offer: not an offer", message_zh="offer：方案编号无效")
        return agreements.prepare(
            session,
            customer_id,
            int(offer_id),
            plan,
            now=_now(request),
            zone=state.settings.zone,
            grace_days=state.settings.repayment_grace_days,
        ).id

    try:
        agreement_id = prepare()
    except DoorstepError as exc:
        session.rollback()
        return _plans(request, session, customer_id, _status(exc), _text(request, exc))
    session.commit()
    return RedirectResponse(f"/portal/agreements/{agreement_id}", status_code=303)


def _agreement_page(
    request: Request,
    session: Session,
    customer_id: str,
    agreement_id: RowId,
    *,
    step: str = "ask",
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    found = agreements.view(session, customer_id, agreement_id)
    at = found.agreement.confirmed_at
    zone = app_state(request).settings.zone
    return _page(
        request,
        "portal/agreement.html",
        status,
        a=found.agreement,
        offer=found.offer,
        o=found.option,
        step=step,
        error=error,
        confirmed=at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else None,
    )


@router.get("/portal/agreements/{agreement_id}", response_class=HTMLResponse, response_model=None)
def agreement_page(agreement_id: RowId, request: Request, session: DbSession) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    return _agreement_page(request, session, customer_id, agreement_id)


@router.post("/portal/agreements/{agreement_id}/code", response_model=None)
def send_code(
    agreement_id: RowId,
    request: Request,
    session: DbSession,
    state: State,
    mobile: Annotated[str, Form(max_length=20)],
) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    try:
        agreements.send_code(
            session,
            sender(request, state),
            state.hasher,
            customer_id,
            agreement_id,
            mobile,
            client_address(request),
            _now(request),
        )
    except DoorstepError as exc:
        session.commit()  # a refusal counts towards the throttle, as at sign-in
        return _agreement_page(
            request,
            session,
            customer_id,
            agreement_id,
            status=_status(exc),
            error=_text(request, exc),
        )
    session.commit()
    return _agreement_page(request, session, customer_id, agreement_id, step="code")


@router.post("/portal/agreements/{agreement_id}/confirm", response_model=None)
def confirm(
    agreement_id: RowId,
    request: Request,
    session: DbSession,
    state: State,
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    try:
        agreements.confirm(
            session,
            state.hasher,
            customer_id,
            agreement_id,
            code,
            now=_now(request),
            today=_today(request),
        )
    except DoorstepError as exc:
        if isinstance(exc, SignInRefused):
            session.commit()  # a wrong code's try is counted, as at sign-in
        else:
            session.rollback()
        return _agreement_page(
            request,
            session,
            customer_id,
            agreement_id,
            step="code",
            status=_status(exc),
            error=_text(request, exc),
        )
    session.commit()
    return RedirectResponse("/portal?done=accepted", status_code=303)


@router.get("/portal/agreements/{agreement_id}/agreement.pdf", response_model=None)
def download(
    agreement_id: RowId,
    request: Request,
    session: DbSession,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    language = lang or language_of(request)
    document = agreements.document(session, customer_id, agreement_id, language)
    name = f"agreement-{agreement_id}-{language}.pdf"
    return Response(
        document,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
