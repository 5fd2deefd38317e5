"""CSRF protection for cookie-authenticated forms: every unsafe request must echo a token
in a form field or the X-CSRF-Token header (htmx sends the header).

A signed-in person's token is derived from their server-side session's id (an HMAC keyed
by it), so it is tied to that session: it changes at every sign-in and is worth nothing
once the session has ended. Before signing in (the sign-in forms, the borrower portal) it
is a random value kept in the signed form cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from doorstep.domain.errors import CsrfFailed
from doorstep.http.context import SESSION_COOKIE


def csrf_token(request: Request) -> str:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        return hmac.new(session_id.encode(), b"csrf", hashlib.sha256).hexdigest()
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # API clients with a token: no ambient cookie authority to abuse
    if request.url.path.startswith("/api") and SESSION_COOKIE not in request.cookies:
        return  # no signed-in session to abuse: the route answers 401 itself
    signed_in = SESSION_COOKIE in request.cookies
    expected = csrf_token(request) if signed_in else str(request.session.get("csrf", ""))
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token", ""))
    if not expected or not hmac.compare_digest(expected, sent):
        raise CsrfFailed(
            "the form expired or did not come from this site: reload the page",
            message_zh="表单已过期或来源不明，请刷新页面",
        )
