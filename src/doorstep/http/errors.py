"""Domain errors to HTTP: RFC 9457 problem details for the API, the same codes for pages."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from doorstep.domain import errors
from doorstep.domain.errors import DoorstepError
from doorstep.http.context import SESSION_COOKIE

STATUS: dict[type[DoorstepError], int] = {
    # One status per branch of the tree drawn in domain/errors.py; a leaf takes its branch's.
    errors.InvalidValue: 422,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Throttled: 429,
    errors.Conflict: 409,
    errors.StorageFull: 507,  # the server's fault, not the request's: send it again later
    errors.DependencyFailed: 502,
}


def status_of(exc: DoorstepError) -> int:
    """The HTTP status of a domain error: its nearest branch in STATUS, else 500."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def problem(
    status: int, code: str, title: str, detail: str, request: Request, **extra: object
) -> JSONResponse:
    body = {
        "type": f"about:blank#{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": str(request.url.path),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get(
        "accept", ""
    )


PageRenderer = Callable[[Request, DoorstepError], Response]


def signed_out(request: Request, exc: errors.NotSignedIn) -> Response:
    """A page asked for without a live session: to the sign-in page, which says why when
    the session ended or expired (and the dead session's cookie is dropped)."""
    target = f"/login?next={quote(request.url.path)}"
    if exc.code != errors.NotSignedIn.code:
        target += f"&why={exc.code}"
    response = RedirectResponse(target, status_code=303)
    if exc.code != errors.NotSignedIn.code:
        response.delete_cookie(SESSION_COOKIE)
    return response


def install(app: FastAPI, render_page: PageRenderer | None = None) -> None:
    """Map errors to responses; `render_page` shows a refused page request as a page."""

    @app.exception_handler(DoorstepError)
    async def domain_error(request: Request, exc: DoorstepError) -> Response:
        status = status_of(exc)
        if isinstance(exc, errors.NotSignedIn) and wants_page(request):
            return signed_out(request, exc)
        if render_page is not None and wants_page(request):
            return render_page(request, exc)
        language = request.cookies.get("lang", "zh_CN")
        detail = exc.message_zh if language.startswith("zh") else exc.message
        extra = getattr(exc, "extra", None) or {}  # e.g. the rules that blocked a contact
        return problem(status, exc.code, exc.code.replace("_", " "), detail, request, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if render_page is not None and wants_page(request):  # a page's form: said in words
            return render_page(request, in_words(exc))
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(
            422,
            "invalid_request",
            "invalid request",
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors),
            request,
            errors=errors,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return problem(
            exc.status_code, f"http_{exc.status_code}", str(exc.detail), str(exc.detail), request
        )


_ZH = {
    "missing": "必填",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "finite_number": "须为有限的数字",
    "bool_parsing": "须为是或否",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须不大于 {le}",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "enum": "不是有效选项",
    "literal_error": "不是有效选项",
}


def in_words(exc: RequestValidationError) -> errors.InvalidValue:
    """A refused form or query as the page shows it: each field with what is wrong, in
    zh_CN and en (pydantic's words are English only)."""
    en, zh = [], []
    for error in exc.errors():
        field = str((error.get("loc") or ("?",))[-1])
        en.append(f"{field}: {error.get('msg', 'invalid')}")
        template = _ZH.get(str(error.get("type", "")), "值无效")
        try:
            zh.append(f"{field}：" + template.format(**(error.get("ctx") or {})))
        except (KeyError, IndexError):
            zh.append(f"{field}：值无效")
    return errors.InvalidValue("; ".join(en), message_zh="；".join(zh))
