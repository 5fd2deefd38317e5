"""What the pages' forms share: reading a date field, and the one shape of a form action
(do the work; on a refusal undo what it wrote and show why; else commit and send the
browser on with a 303, so that a reload does not post the form again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from doorstep.domain import bounds
from doorstep.domain.errors import DoorstepError
from doorstep.http.errors import status_of
from doorstep.web.i18n import language_of
from doorstep.web.templating import render

T = TypeVar("T")


def error_message(request: Request, exc: DoorstepError) -> str:
    """The refusal in the page's language."""
    return exc.message_zh if language_of(request).startswith("zh") else exc.message


def error_page(request: Request, exc: DoorstepError, back: str = "/cases") -> HTMLResponse:
    """A page (not a JSON problem) for a refused page request: same status, a way back."""
    status = status_of(exc)
    return render(
        request,
        "error.html",
        status_code=status,
        status=status,
        code=exc.code,
        message=error_message(request, exc),
        back=back,
    )


def day_field(text: str, field: str) -> date:
    """A date given as YYYY-MM-DD inside the business's calendar, or a refusal naming the
    field (`domain.bounds.day`)."""
    return bounds.day(text, field)


def act(
    request: Request,
    session: Session,
    work: Callable[[], T],
    then: str | Callable[[T], str],
    *,
    back: str = "/cases",
    refused: Callable[[DoorstepError], Response] | None = None,
) -> Response:
    """Run `work`, commit and redirect to `then`, or to `then(work's result)`: called after
    the commit, so it may start what must see the committed rows.

    A `DoorstepError` from the work rolls back what it wrote and answers `refused(error)`:
    by default the error page with the error's status and a link `back`."""
    try:
        result = work()
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc, back=back) if refused is None else refused(exc)
    session.commit()
    return RedirectResponse(then if isinstance(then, str) else then(result), status_code=303)
