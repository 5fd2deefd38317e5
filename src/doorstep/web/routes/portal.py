"""The borrower portal under /portal (phone-first) and the education pages under /learn.

A borrower's session is its own cookie (`doorstep_portal`, a random token whose hash is a
`portal_sessions` row), never the staff session: signing in here gives no staff rights,
and every page reads only the signed-in borrower's own loans, offers and case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from doorstep.domain.errors import DoorstepError, InvalidValue, NotFound
from doorstep.domain.reasons import REASONS
from doorstep.http.context import DbSession, State, app_state, client_address
from doorstep.integrations.sms import LogSender, SmsSender
from doorstep.services.repayment import agreements, portal
from doorstep.web.forms import act, day_field
from doorstep.web.i18n import language_of
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
COOKIE = "doorstep_portal"
LEARN_PAGES = ("budgeting", "credit-report", "restructuring-cost", "free-advice")


def sender(request: Request, state: State) -> SmsSender:
    """The app's SMS sender: a real gateway set on `app.state.portal_sms`, else the log."""
    found: SmsSender | None = getattr(request.app.state, "portal_sms", None)
    if found is None:
        found = LogSender(keep=20 if state.settings.portal_dev_codes else 0)
        request.app.state.portal_sms = found
    return found


def _text(request: Request, exc: DoorstepError) -> str:
    return exc.message_zh if language_of(request).startswith("zh") else exc.message


def _status(exc: DoorstepError) -> int:
    return {
        "sign_in_refused": 401,
        "login_throttled": 429,
        "not_found": 404,
        "offer_expired": 410,
        "illegal_transition": 409,
    }.get(exc.code, 422)


def _borrower(request: Request, session: DbSession) -> str | None:
    return portal.borrower_for(session, request.cookies.get(COOKIE), _now(request))


def _now(request: Request) -> datetime:
    """The app's clock (every time a borrower's request reads or writes comes from it)."""
    return app_state(request).clock.now()


def _today(request: Request) -> date:
    """Today in the business time zone."""
    return _now(request).astimezone(app_state(request).settings.zone).date()


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return render(request, name, status_code=status_code, portal=True, **context)


SIGN_IN = RedirectResponse("/portal/sign-in", status_code=303)


# --- sign-in ---------------------------------------------------------------------------------


@router.get("/portal/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return _page(request, "portal/sign_in.html", step="ask", loan_id="", error=None)


@router.post("/portal/code", response_class=HTMLResponse)
def ask_code(
    request: Request,
    session: DbSession,
    state: State,
    loan_id: Annotated[str, Form(max_length=64)],
    mobile: Annotated[str, Form(max_length=20)],
) -> HTMLResponse:
    try:
        portal.request_code(
            session,
            sender(request, state),
            state.hasher,
            loan_id,
            mobile,
            client_address(request),
            _now(request),
        )
    except DoorstepError as exc:
        session.commit()  # the failure counts towards the throttle
        return _page(
            request,
            "portal/sign_in.html",
            _status(exc),
            step="ask",
            loan_id=loan_id,
            error=_text(request, exc),
        )
    session.commit()
    return _page(request, "portal/sign_in.html", step="code", loan_id=loan_id.strip(), error=None)


@router.post("/portal/verify", response_model=None)
def verify(
    request: Request,
    session: DbSession,
    state: State,
    loan_id: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    try:
        token = portal.verify_code(session, state.hasher, loan_id, code, _now(request))
    except DoorstepError as exc:
        session.commit()  # a wrong try is counted
        return _page(
            request,
            "portal/sign_in.html",
            _status(exc),
            step="code",
            loan_id=loan_id,
            error=_text(request, exc),
        )
    session.commit()
    response = RedirectResponse("/portal", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(portal.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/portal",
    )
    return response


@router.post("/portal/sign-out")
def sign_out(request: Request, session: DbSession) -> RedirectResponse:
    portal.sign_out(session, request.cookies.get(COOKIE), _now(request))
    session.commit()
    response = RedirectResponse("/portal/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/portal")
    return response


@router.get("/portal/dev/codes", response_class=HTMLResponse)
def dev_codes(request: Request, state: State) -> HTMLResponse:
    if not state.settings.portal_dev_codes:
        raise NotFound("no such page", message_zh="页面不存在")
    found = sender(request, state)
    recent = found.recent() if isinstance(found, LogSender) else []
    return _page(request, "portal/dev_codes.html", messages=recent)


# --- the borrower's pages ----------------------------------------------------------------


@router.get("/portal", response_class=HTMLResponse, response_model=None)
def home(request: Request, session: DbSession, state: State) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    now = _now(request)
    return _page(
        request,
        "portal/home.html",
        loans=portal.overview(session, customer_id, _today(request), state.settings.waterfall_rule),
        offers=portal.open_offers(session, customer_id, now),
        visitors=portal.visitors(session, customer_id, now),
        slots=portal.slots_of(session, customer_id),
        messages=portal.messages_of(session, customer_id)[:5],
        agreements=agreements.of_customer(session, customer_id, now),
        notice=request.query_params.get("done"),
    )


# A borrower's form page: (request, session, customer id, status, error shown).
FormPage = Callable[[Request, Session, str, int, str | None], HTMLResponse]


def _show(request: Request, session: DbSession, form: FormPage) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    return form(request, session, customer_id, 200, None)


def _submit(
    request: Request, session: DbSession, form: FormPage, done: str, work: Callable[[str], object]
) -> Response:
    """The signed-in borrower's `work`, then home with the notice `done`; a refusal shows
    the form again with the reason."""
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    return act(
        request,
        session,
        lambda: work(customer_id),
        f"/portal?done={done}",
        refused=lambda exc: form(request, session, customer_id, _status(exc), _text(request, exc)),
    )


def _tell_us(
    request: Request, session: Session, customer_id: str, status: int, error: str | None
) -> HTMLResponse:
    return _page(request, "portal/tell_us.html", status, reasons=REASONS, error=error)


@router.get("/portal/tell-us", response_class=HTMLResponse, response_model=None)
def tell_us(request: Request, session: DbSession) -> Response:
    return _show(request, session, _tell_us)


@router.post("/portal/hardship", response_model=None)
def hardship(
    request: Request,
    session: DbSession,
    state: State,
    reason: Annotated[str, Form(max_length=40)],
    statement: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _submit(
        request,
        session,
        _tell_us,
        "hardship",
        lambda customer_id: portal.report_hardship(
            session,
            customer_id,
            reason,
            statement,
            _today(request),
            state.settings.portal_hold_days,
            now=_now(request),
            cipher=state.cipher,
        ),
    )


@router.post("/portal/callback", response_model=None)
def callback(
    request: Request,
    session: DbSession,
    state: State,
    day: Annotated[str, Form(max_length=10)],
    at: Annotated[str, Form(max_length=5)],
) -> Response:
    return _submit(
        request,
        session,
        _tell_us,
        "callback",
        lambda customer_id: portal.request_callback(
            session,
            customer_id,
            datetime.combine(day_field(day, "day"), _parse_time(at, "at"), state.settings.zone),
            _now(request),
        ),
    )


@router.post("/portal/complaint", response_model=None)
def complaint(
    request: Request,
    session: DbSession,
    statement: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _submit(
        request,
        session,
        _tell_us,
        "complaint",
        lambda customer_id: portal.complain(
            session, customer_id, statement, now=_now(request), cipher=app_state(request).cipher
        ),
    )


def _parse_time(text: str, field: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{field}: not a time: {text!r}", message_zh=f"{field}：时间无效：{text!r}"
        ) from None


def _visit(
    request: Request, session: Session, customer_id: str, status: int, error: str | None
) -> HTMLResponse:
    tomorrow = _today(request) + timedelta(days=1)
    return _page(
        request,
        "portal/visit.html",
        status,
        error=error,
        slots=portal.slots_of(session, customer_id),
        visitors=portal.visitors(session, customer_id, _now(request)),
        tomorrow=tomorrow,
    )


@router.get("/portal/visit", response_class=HTMLResponse, response_model=None)
def visit_page(request: Request, session: DbSession) -> Response:
    return _show(request, session, _visit)


@router.post("/portal/address", response_model=None)
def address(
    request: Request,
    session: DbSession,
    state: State,
    corrected: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    return _submit(
        request,
        session,
        _visit,
        "address",
        lambda customer_id: portal.confirm_address(
            session, state.cipher, state.hasher, customer_id, corrected, _now(request)
        ),
    )


@router.post("/portal/slot", response_model=None)
def slot(
    request: Request,
    session: DbSession,
    day: Annotated[str, Form(max_length=10)],
    start: Annotated[str, Form(max_length=5)],
    end: Annotated[str, Form(max_length=5)],
) -> Response:
    return _submit(
        request,
        session,
        _visit,
        "slot",
        lambda customer_id: portal.book_slot(
            session,
            customer_id,
            day_field(day, "day"),
            _parse_time(start, "start"),
            _parse_time(end, "end"),
            _today(request),
            now=_now(request),
            cipher=app_state(request).cipher,
        ),
    )


@router.post("/portal/no-work-visits", response_model=None)
def no_work(request: Request, session: DbSession) -> Response:
    customer_id = _borrower(request, session)
    if customer_id is None:
        return SIGN_IN
    portal.no_visits_at_work(session, customer_id, now=_now(request))
    session.commit()
    return RedirectResponse("/portal?done=no_work_visit", status_code=303)


# --- financial education (no sign-in, counts only) ---------------------------------------


@router.get("/learn", response_class=HTMLResponse)
def learn_index(request: Request) -> HTMLResponse:
    return _page(request, "learn/index.html", pages=LEARN_PAGES)


@router.get("/learn/{slug}", response_class=HTMLResponse)
def learn_page(slug: str, request: Request, session: DbSession) -> HTMLResponse:
    if slug not in LEARN_PAGES:
        raise NotFound(f"no page {slug!r}", message_zh="页面不存在")
    language = language_of(request)
    portal.count_read(session, slug, language)
    session.commit()
    body = f"learn/{'zh_CN' if language == 'zh_CN' else 'en'}/{slug}.html"
    return _page(request, "learn/page.html", slug=slug, body=body, pages=LEARN_PAGES)
