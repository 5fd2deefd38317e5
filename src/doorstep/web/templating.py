"""Jinja2 templates with gettext, masking and money filters."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from doorstep.domain.money import format_yuan
from doorstep.web.i18n import LANGUAGES, language_of, translations
from doorstep.web.security import csrf_token

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.filters["yuan"] = lambda fen: "" if fen is None else format_yuan(int(fen))
templates.env.autoescape = True


@cache
def gettext_callables(language: str) -> dict[str, Callable[..., Markup]]:
    """`_`, `gettext` and `ngettext` for one language, passed in each page's context.

    Not `env.install_gettext_callables` per request: the environment is shared by every
    thread, so a page could be rendered with the catalog another request just installed.
    And the text is escaped here: Jinja's own callables mark the translation safe, so
    `_(value)` of a value without a translation would print that value as raw HTML.
    """
    catalog = translations(language)

    def gettext(message: str, **variables: Any) -> Markup:
        text = escape(catalog.gettext(message))
        return text % variables if variables else text

    def ngettext(singular: str, plural: str, num: int, **variables: Any) -> Markup:
        variables.setdefault("num", num)
        return escape(catalog.ngettext(singular, plural, num)) % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    return templates.TemplateResponse(
        request,
        name,
        {
            "lang": language,
            "languages": LANGUAGES,
            "csrf": csrf_token(request),
            "user": getattr(request.state, "actor", None),
            **gettext_callables(language),
            **context,
        },
        status_code=status_code,
    )
