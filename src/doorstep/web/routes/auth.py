"""Sign in and out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import DbSession, app_state, client_address
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.web.i18n import LANGUAGES, language_of
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


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next), error=None)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        state = app_state(request)
        user = users.authenticate(
            session,
            username,
            password,
            client_address(request),
            hasher=state.password_hasher,
            now=state.clock.now(),
        )
    except DoorstepError as exc:
        session.commit()  # keep the failure count even though the login failed
        zh = language_of(request).startswith("zh")
        status = 429 if exc.code == "login_throttled" else 401
        return render(
            request,
            "login.html",
            status_code=status,
            next=safe_next(next),
            error=exc.message_zh if zh else exc.message,
        )
    request.session.clear()  # a new session on sign-in: no fixation
    request.session["user_id"] = user.id
    request.session["login_version"] = users.session_stamp(user)
    audit.record(session, users.actor_for(session, user), "user.login", "user", user.id, {})
    session.commit()
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> RedirectResponse:
    referer = request.headers.get("referer", "/cases")
    back = safe_next(referer.split(str(request.base_url).rstrip("/"), 1)[-1])
    response = RedirectResponse(back, status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
