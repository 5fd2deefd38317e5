"""Jinja2 templates with gettext, masking and money filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from doorstep.domain.money import format_yuan
from doorstep.web.i18n import LANGUAGES, language_of, translations
from doorstep.web.security import csrf_token

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.filters["yuan"] = lambda fen: "" if fen is None else format_yuan(int(fen))
templates.env.autoescape = True


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    catalog = translations(language)
    templates.env.install_gettext_callables(  # type: ignore[attr-defined]
        catalog.gettext, catalog.ngettext, newstyle=True
    )
    return templates.TemplateResponse(
        request, name,
        {"lang": language, "languages": LANGUAGES, "csrf": csrf_token(request),
         "user": getattr(request.state, "actor", None), **context},
        status_code=status_code,
    )
