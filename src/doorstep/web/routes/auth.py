"""Sign in and out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import SESSION_COOKIE, DbSession, app_state, client_address
from doorstep.http.errors import status_of
from doorstep.services.conduct import audit
from doorstep.services.people import sessions, users
from doorstep.web.forms import error_message
from doorstep.web.i18n import LANGUAGES
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/cases"


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


WHY = ("session_ended", "session_expired")  # why a page sent the person here (http.errors)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, why: str | None = None) -> HTMLResponse:
    return render(
        request, "login.html", next=safe_next(next), error=None, why=why if why in WHY else None
    )


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    state = app_state(request)
    now, address = state.clock.now(), client_address(request)
    try:
        users.claim_attempt(session, username, address, now=now)
        session.commit()  # counted before the (slow) check: attempts at once see the count
        user = users.authenticate(
            session, username, password, address, hasher=state.password_hasher, now=now
        )
    except DoorstepError as exc:
        session.commit()
        return render(
            request,
            "login.html",
            status_code=status_of(exc),
            next=safe_next(next),
            error=error_message(request, exc),
            why=None,
        )
    session_id = sessions.start(
        session, user, now=now, replacing=request.cookies.get(SESSION_COOKIE)
    )
    audit.record(session, users.actor_for(session, user), "user.login", "user", user.id, {})
    session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=state.settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
    )
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession) -> RedirectResponse:
    """End the session on the server: every copy of the cookie stops working."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        sessions.end(session, session_id, now=app_state(request).clock.now())
        session.commit()
    request.session.clear()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> RedirectResponse:
    referer = request.headers.get("referer", "/cases")
    back = safe_next(referer.split(str(request.base_url).rstrip("/"), 1)[-1])
    response = RedirectResponse(back, status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
