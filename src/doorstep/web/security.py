"""CSRF protection for cookie-authenticated forms: a per-session token that every unsafe
request must echo in a form field or the X-CSRF-Token header (htmx sends the header)."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from doorstep.domain.errors import CsrfFailed


def csrf_token(request: Request) -> str:
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
    if request.url.path.startswith("/api") and "user_id" not in request.session:
        return  # no signed-in session to abuse: the route answers 401 itself
    expected = request.session.get("csrf", "")
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token", ""))
    if not expected or not hmac.compare_digest(str(expected), sent):
        raise CsrfFailed(
            "the form expired or did not come from this site: reload the page",
            message_zh="表单已过期或来源不明，请刷新页面",
        )
