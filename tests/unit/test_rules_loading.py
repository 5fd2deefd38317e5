"""Loading packs and overrides: where each value came from, and clear errors naming the
rule and the field for a pack that cannot be used."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from doorstep.domain import rules
from doorstep.domain.errors import PackError
from doorstep.domain.rules import Action, Channel, ContactContext
from doorstep.domain.rules.pack import shipped_text

SH = ZoneInfo("Asia/Shanghai")


def test_override_changes_parameters_and_records_the_origin() -> None:
    text = """
jurisdiction = "cn"
[rules.CN-CALLS-EFFECTIVE.params]
max = 2
[rules.CN-VISIT-INTERVAL]
severity = "block"
[rules.CN-DIAL-ATTEMPTS]
enabled = false
"""
    pack = rules.load("cn", ("site.toml", text))
    calls = pack.rule("CN-CALLS-EFFECTIVE")
    assert calls.params["max"] == 2 and calls.origins["max"] == "site.toml"
    assert calls.origins["field"] == "cn.toml" and calls.origins["severity"] == "cn.toml"
    assert "2" in calls.message_en  # the message shows the effective value
    assert pack.rule("CN-VISIT-INTERVAL").severity is rules.Severity.BLOCK
    assert pack.rule("CN-DIAL-ATTEMPTS").enabled is False
    assert pack.sources == ("cn.toml", "site.toml")
    ctx = ContactContext(
        datetime(2026, 3, 10, 10, tzinfo=SH),
        (SH,),
        Channel.CALL,
        connected_calls_today=2,
        dial_attempts_today=99,
    )
    decision = rules.check(Action.CONTACT, ctx, pack)
    assert decision.rule_ids == ("CN-CALLS-EFFECTIVE",)  # the third call, and dials off
    assert rules.check(Action.CONTACT, ctx, rules.load("cn")).rule_ids == ("CN-DIAL-ATTEMPTS",)


BAD_OVERRIDES = [
    ('[rules.CN-HOURS.params]\nstart = "25:00"', "CN-HOURS", "params.start"),
    ("[rules.CN-HOURS.params]\nstart = 22", "CN-HOURS", "params.start"),
    ("[rules.CN-CALLS-EFFECTIVE.params]\nmax = -1", "CN-CALLS-EFFECTIVE", "params.max"),
    ('[rules.CN-CALLS-EFFECTIVE.params]\nfield = "calls"', "CN-CALLS-EFFECTIVE", "params.field"),
    ("[rules.CN-CALLS-EFFECTIVE.params]\nlimit = 3", "CN-CALLS-EFFECTIVE", "params.limit"),
    ('[rules.CN-HOURS]\nseverity = "stop"', "CN-HOURS", "severity"),
    ('[rules.CN-HOURS]\nsource = "mine"', "CN-HOURS", "source"),
    ("[rules.CN-NOPE.params]\nx = 1", "CN-NOPE", "id"),
    ('[rules.CN-LICENSED-CAP.params]\ncap = "abc"', "CN-LICENSED-CAP", "params.cap"),
    ('[rules.CN-DEBTOR-ONLY.params]\nrelations = ["cousin"]', "CN-DEBTOR-ONLY", "params.relations"),
    ('[rules.CN-HOURS]\nenabled = "no"', "CN-HOURS", "enabled"),
]


@pytest.mark.parametrize(("text", "rule", "field"), BAD_OVERRIDES)
def test_bad_override_names_rule_and_field(text: str, rule: str, field: str) -> None:
    with pytest.raises(PackError) as caught:
        rules.load("cn", ("site.toml", text))
    assert (caught.value.rule, caught.value.field) == (rule, field)
    assert caught.value.origin == "site.toml"
    assert rule in str(caught.value) and field in str(caught.value)
    assert rule in caught.value.message_zh


def test_override_for_another_jurisdiction_is_refused() -> None:
    with pytest.raises(PackError, match="jurisdiction"):
        rules.load("cn", ("site.toml", 'jurisdiction = "us"'))


def test_bad_toml_and_unknown_jurisdiction() -> None:
    with pytest.raises(PackError, match="toml"):
        rules.load("cn", ("site.toml", "[rules"))
    with pytest.raises(PackError, match="jurisdiction"):
        rules.load("fr")


@pytest.mark.parametrize(
    ("old", "new", "rule", "field"),
    [
        ('kind = "quiet_hours"', 'kind = "quiet"', "CN-HOURS", "kind"),
        (
            'actions = ["contact", "plan_visit", "check_in"]',
            'actions = ["dance"]',
            "CN-HOURS",
            "actions",
        ),
        ('id = "CN-DIAL-ATTEMPTS"', 'id = "CN-HOURS"', "CN-HOURS", "id"),
        (
            'actions = ["reveal_personal_data"]',
            'actions = ["contact"]',
            "CN-PIPL-SENSITIVE",
            "actions",
        ),
        ('field = "periods"', 'field = "apr_simple"', "CN-HARDSHIP-PLAN", "params.field"),
    ],
)
def test_bad_pack_names_rule_and_field(old: str, new: str, rule: str, field: str) -> None:
    text = shipped_text("cn")
    assert old in text
    with pytest.raises(PackError) as caught:
        rules.load("cn", pack_text=text.replace(old, new, 1))
    assert (caught.value.rule, caught.value.field) == (rule, field)


def test_shipped_packs_load_and_cite_sources() -> None:
    for jurisdiction in rules.JURISDICTIONS:
        pack = rules.load(jurisdiction)
        assert pack.jurisdiction == jurisdiction
        assert all(r.source and r.message_zh and r.message_en for r in pack.rules)
        assert all(set(r.params) <= set(r.origins) for r in pack.rules)
