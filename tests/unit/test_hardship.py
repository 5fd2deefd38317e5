"""The hardship-or-evasion rule set: transparent, bounded, advice with reasons."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest

from doorstep.domain import hardship
from doorstep.domain.errors import InvalidValue
from doorstep.domain.hardship import REASONS, Assessment, InterviewFacts, assess

YUAN = 100


def facts(**change: object) -> InterviewFacts:
    base: dict[str, object] = {"borrower_reached": True, "days_past_due": 45}
    base.update(change)
    return InterviewFacts(**base)  # type: ignore[arg-type]


def codes(result: Assessment) -> set[str]:
    return {r.code for r in result.reasons}


def test_a_job_loss_with_no_margin_and_some_payments_leans_hardship() -> None:
    result = assess(
        facts(
            reasons=("job_loss",),
            primary_reason="job_loss",
            monthly_income_fen=3_000 * YUAN,
            essential_expenses_fen=2_800 * YUAN,
            other_debts_fen=500 * YUAN,
            dependants=3,
            willingness=5,
            ability_per_month_fen=300 * YUAN,
            paid_since_overdue_fen=600 * YUAN,
        )
    )
    assert result.leaning == "hardship"
    assert result.probability_willful == hardship.FLOOR
    assert {"shock", "no_margin", "dependants", "willing", "offers_to_pay", "paid_since"} <= codes(
        result
    )


def test_income_to_spare_nothing_paid_and_broken_promises_leans_evasion() -> None:
    result = assess(
        facts(
            reasons=("poor_money_management",),
            monthly_income_fen=20_000 * YUAN,
            essential_expenses_fen=6_000 * YUAN,
            other_debts_fen=2_000 * YUAN,
            willingness=1,
            broken_promises=3,
            days_past_due=120,
        )
    )
    assert result.leaning == "evasion"
    assert result.probability_willful >= hardship.EVASION_FROM
    assert {"margin_unpaid", "unwilling", "promises_broken", "long_silence"} <= codes(result)
    # reasons come strongest first, each with both languages
    weights = [abs(r.weight) for r in result.reasons]
    assert weights == sorted(weights, reverse=True)
    assert all(r.en and r.zh_CN for r in result.reasons)


def test_too_little_evidence_is_unclear() -> None:
    result = assess(facts())
    assert result.leaning == "unclear"
    assert result.probability_willful == Fraction(1, 2)
    one = assess(facts(willingness=1))  # a single rule never decides
    assert one.leaning == "unclear" and one.probability_willful == Fraction(13, 20)


def test_probability_is_bounded_and_exact() -> None:
    worst = assess(
        facts(
            reasons=("willful_evasion", "poor_money_management"),
            borrower_reached=False,
            monthly_income_fen=50_000 * YUAN,
            essential_expenses_fen=0,
            other_debts_fen=0,
            willingness=1,
            broken_promises=5,
            days_past_due=400,
        )
    )
    assert worst.probability_willful == hardship.CEILING
    assert isinstance(worst.probability_willful, Fraction)
    assert 0 < worst.probability_willful < 1


def test_identity_claims_and_disputes_are_flagged_for_checking() -> None:
    result = assess(facts(reasons=("fraud_or_identity_theft", "dispute")))
    assert {"identity_claim", "dispute"} <= codes(result)
    identity = next(r for r in result.reasons if r.code == "identity_claim")
    assert identity.weight == 0


def test_vulnerability_is_named_in_the_reasons() -> None:
    result = assess(facts(vulnerability=("illness",), reasons=("medical",)))
    vulnerable = next(r for r in result.reasons if r.code == "vulnerable")
    assert "illness" in vulnerable.en and "illness" in vulnerable.zh_CN


@pytest.mark.parametrize(
    "change",
    [
        {"reasons": ("laziness",)},
        {"primary_reason": "bad_luck"},
        {"willingness": 0},
        {"willingness": 6},
        {"monthly_income_fen": -1},
        {"broken_promises": -1},
    ],
)
def test_bad_facts_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        facts(**change)


def test_the_taxonomy_is_the_design_one() -> None:
    assert set(REASONS) == {
        "poor_money_management",
        "medical",
        "job_loss",
        "business_failure",
        "income_drop",
        "family_event",
        "product_misunderstood",
        "dispute",
        "fraud_or_identity_theft",
        "willful_evasion",
        "deceased_or_incapacitated",
        "other",
    }


def test_advice_is_json_ready_and_says_so() -> None:
    advice = assess(facts(willingness=5, paid_since_overdue_fen=100)).as_dict()
    assert advice["advice_only"] is True
    assert advice["leaning"] == "hardship"
    assert Fraction(advice["probability_willful"]) == Fraction(3, 10)
    assert all({"code", "weight", "en", "zh_CN"} <= set(r) for r in advice["reasons"])


def test_the_rule_set_uses_the_standard_library_only() -> None:
    tree = ast.parse(Path(hardship.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        a.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
    }
    assert imported <= {
        "__future__",
        "collections",
        "dataclasses",
        "fractions",
        "typing",
        "doorstep",
    }


def documented_codes() -> set[str]:
    """The codes of the module docstring's rule table."""
    return {
        line.split("|")[1].strip()
        for line in (hardship.__doc__ or "").splitlines()
        if line.startswith("| ") and not line.startswith("| code")
    } - {""}


def test_every_documented_rule_exists() -> None:
    documented = documented_codes()
    source = Path(hardship.__file__).read_text(encoding="utf-8")
    assert documented
    for code in documented:
        assert f'"{code}"' in source, code


def test_the_table_and_the_documented_rules_match() -> None:
    assert {rule.code for rule in hardship.RULES} == documented_codes()
