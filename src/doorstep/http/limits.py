"""Refuse oversized requests early: a 413 problem before the body is read.

A declared Content-Length above the limit is refused at once; a body without one (chunked)
is counted as it streams and refused as soon as it passes the limit, so no handler ever
buffers more than the limit.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorstep.domain import bounds
from doorstep.http.errors import problem

FORM_MAX_FILES = 20  # files in one multipart form (a visit's evidence)
FORM_MAX_FIELDS = 200  # other fields in one form


class _TooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit. Frameworks may catch
    it (FastAPI answers 400 to a body it could not read): the middleware answers anyway."""


class RequestSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app makes of the cut-off body (FastAPI: a 400): ours
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:  # too late for a clean answer: drop the connection
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        megabytes = self.max_bytes / 1024 / 1024
        response = problem(
            413,
            "request_too_large",
            "request too large",
            f"请求超过 {megabytes:.0f} MB 上限 (request larger than {megabytes:.0f} MB)",
            Request(scope),
            max_bytes=self.max_bytes,
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)


# A NUL in a path, query string, JSON or form body: PostgreSQL text cannot hold it.
NUL_MARKS = {
    b"application/json": (b"\\u0000", b"\x00"),
    b"application/x-www-form-urlencoded": (b"%00", b"\x00"),
}


class RefuseNul:
    """Refuse text carrying U+0000 with a 422 problem before any handler sees it: SQLite
    would store it, PostgreSQL fails the statement (a 500), so neither may get it. Bodies
    are checked here for JSON and urlencoded forms; a multipart form's files may hold any
    byte, so its text fields are checked once parsed (`refuse_nul_in_multipart`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await self._refuse(scope, receive, send, "path or query")
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        marks = NUL_MARKS.get(content_type.split(b";")[0].strip().lower())
        if marks is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:  # the size limit outside this middleware bounds what is buffered
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages).lower()
        if any(mark in body for mark in marks):
            await self._refuse(scope, receive, send, "body")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        response = problem(
            422,
            "invalid_request",
            "invalid request",
            f"{where}: 文本不能包含 NUL 字符 (text may not contain U+0000)",
            Request(scope),
        )
        await response(scope, receive, send)


async def refuse_nul_in_multipart(request: Request) -> None:
    """A multipart form's text fields and file names may not hold NUL (U+0000): the
    refusal (422) names the field. Parsed with the app's limits on files and fields, so
    the form the handler reads later (Starlette keeps it) was read with them."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return
    form = await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS)
    for name, value in form.multi_items():
        text = (value.filename or "") if isinstance(value, UploadFile) else value
        bounds.no_nul(name, "form field name")
        bounds.no_nul(text, name)
