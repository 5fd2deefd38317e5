"""zh_CN and en text for the pages: gettext catalogs (.po) read with Babel at start-up."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"


@cache
def translations(language: str) -> Translations:
    """The catalog of `language`; English is the source text, so it needs none.

    Every ``*.po`` file of the language is read (one per area of the product: cases,
    planning, visits ...), in name order; a message translated twice keeps the last.
    """
    result = Translations()
    for path in sorted((LOCALES / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:  # plural entries (tuples) are not used by the templates
            if (
                isinstance(message.id, str)
                and isinstance(message.string, str)
                and message.id
                and message.string
            ):
                result._catalog[message.id] = message.string
    return result


def language_of(request: Request) -> str:
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else DEFAULT
