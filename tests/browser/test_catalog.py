"""The zh_CN catalog covers the templates: every literal `_("...")`, and every value the
templates pass through `_()` (states, actions, roles, ...). No browser needed.

A new `_(some.expression)` in a template fails `test_every_dynamic_call_is_known` until
the values it can take are listed in DYNAMIC below (and translated)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from doorstep.domain.access import Role
from doorstep.domain.case import TRANSITIONS, CancelReason, CaseState, HoldReason
from doorstep.domain.contact import SOURCES, AttemptChannel, AttemptResult, ContactStatus
from doorstep.domain.reasons import REASONS
from doorstep.domain.schedule import RepaymentMethod
from doorstep.planning.plan import DropReason
from doorstep.services.batch.daily import DEFAULT_STEPS
from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.services.conduct.holds import NO_WORK_VISIT
from doorstep.services.ingest.contracts import ADDRESSES, CONTACTS, CUSTOMERS
from doorstep.web import i18n

WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"
CATALOGS = WEB / "locales" / "zh_CN" / "LC_MESSAGES"  # one .po per area, all loaded

LITERAL = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
DYNAMIC_CALL = re.compile(r"""\b_\(\s*([A-Za-z_][\w.]*)\s*\)""")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")

_contact_channels = {"phone", "address"}
_kinds = set(CONTACTS.column("kind").choices) | set(ADDRESSES.column("kind").choices)
DYNAMIC: dict[str, set[str]] = {
    "c.state": {s.value for s in CaseState},
    "s": {s.value for s in CaseState},  # the state filter's options
    "action": set(TRANSITIONS) | {"hold", "release"},
    "c.hold_reason": {h.value for h in HoldReason},
    "h.type": {h.value for h in HoldReason} | {NO_WORK_VISIT},  # the customer's holds
    "h.detail": {k.value for k in DisputeKind},  # a dispute's kind
    "dispute_kind": {k.value for k in DisputeKind},
    "outcome": {o.value for o in DisputeOutcome},
    "h": {h.value for h in HoldReason},
    "cr": {c.value for c in CancelReason},
    "user.role.value": {r.value for r in Role},
    "e.role": {r.value for r in Role},
    "f.customer.gender": set(CUSTOMERS.column("gender").choices),
    "loan.method": {m.value for m in RepaymentMethod},
    # contact point channel; the payments table's p.channel is the lender's free text
    # (a few usual ones are translated, the rest shows as given)
    "p.channel": _contact_channels,
    "p.kind": _kinds,
    "p.source": set(SOURCES),
    "p.status": {s.value for s in ContactStatus},
    "ch": {c.value for c in AttemptChannel},
    "a.channel": {c.value for c in AttemptChannel},
    "res": {r.value for r in AttemptResult},
    "a.result": {r.value for r in AttemptResult},
    # repayment plans, the borrower portal and the offer pages
    "reason_code": set(REASONS),
    "alert_reason": set(REASONS),
    "method_code": {m.value for m in RepaymentMethod},
    "o.terms.method.value": {m.value for m in RepaymentMethod},
    # visit plans: plan states, stop statuses, drop reasons
    "p.state": {"draft", "published", "superseded"},
    "s.status": {"planned", "dropped", "started", "done", "cancelled"},
    "s.reason": {r.value for r in DropReason},
    # the batch page: run and step states, step names
    "run.state": {"running", "done", "failed"},
    "step.state": {"pending", "running", "done", "failed"},
    "step.name": {s.name for s in DEFAULT_STEPS},
}


def template_texts() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.rglob("*.html"))}


def literal_messages() -> dict[str, list[str]]:
    """msgid -> the templates using it."""
    found: dict[str, list[str]] = {}
    for path, text in template_texts().items():
        for match in LITERAL.finditer(text):
            message = match.group(1)[1:-1].replace('\\"', '"').replace("\\'", "'")
            found.setdefault(message, []).append(str(path.relative_to(TEMPLATES)))
    return found


def catalog() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(CATALOGS.glob("*.po")):
        with path.open("rb") as handle:
            parsed = read_po(handle, locale="zh_CN")
        merged.update({str(m.id): str(m.string) for m in parsed if m.id and not m.fuzzy})
    return merged


def test_templates_have_messages_at_all() -> None:
    messages = literal_messages()
    assert len(messages) > 50, "the template scan found almost nothing: is the regex broken?"
    assert "Cases" in messages and "%(total)s cases" in messages


def test_every_template_string_has_a_translation() -> None:
    translated = {k for k, v in catalog().items() if v.strip()}
    missing = {m: files for m, files in literal_messages().items() if m not in translated}
    assert not missing, "no zh_CN translation in any .po for:\n" + "\n".join(
        f"  {m!r} ({', '.join(sorted(set(files)))})" for m, files in sorted(missing.items())
    )


def test_every_dynamic_call_is_known() -> None:
    unknown = {
        match.group(1): str(path.relative_to(TEMPLATES))
        for path, text in template_texts().items()
        for match in DYNAMIC_CALL.finditer(text)
        if match.group(1) not in DYNAMIC
    }
    assert not unknown, (
        f"_() of expressions whose values this test does not know: {unknown}; "
        "add them to DYNAMIC with the values they can take"
    )


@pytest.mark.parametrize("expression", sorted(DYNAMIC))
def test_every_value_passed_through_gettext_has_a_translation(expression: str) -> None:
    translated = {k for k, v in catalog().items() if v.strip()}
    missing = sorted(DYNAMIC[expression] - translated)
    assert not missing, f"_({expression}) may show these untranslated: {missing}"


def test_translations_keep_the_placeholders() -> None:
    wrong = {
        message: text
        for message, text in catalog().items()
        if text and sorted(PLACEHOLDER.findall(message)) != sorted(PLACEHOLDER.findall(text))
    }
    assert not wrong, f"placeholders differ: {wrong}"


def test_the_catalog_is_what_the_app_loads() -> None:
    i18n.translations.cache_clear()
    zh = i18n.translations("zh_CN")
    assert zh.gettext("Reveal") == "查看"
    assert zh.gettext("DPD") == "逾期天数"
    assert zh.gettext("%(total)s cases") % {"total": 3} == "共 3 个案件"
    assert i18n.translations("en").gettext("Reveal") == "Reveal"  # English is the source


def test_gettext_in_templates_escapes_what_it_is_given() -> None:
    """`_(value)` of a value without a translation prints the value: as text, never HTML."""
    from doorstep.web.templating import gettext_callables

    for language in ("zh_CN", "en"):
        _ = gettext_callables(language)["_"]
        assert str(_("<img src=x onerror=alert(1)>")) == "&lt;img src=x onerror=alert(1)&gt;"
        assert str(_("%(total)s cases", total="<b>")).endswith(
            "&lt;b&gt;" + (" 个案件" if language == "zh_CN" else " cases")
        )
