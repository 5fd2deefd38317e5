"""Selection policy and contact confirmation rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from doorstep.domain.contact import (
    AttemptChannel,
    AttemptResult,
    ContactStatus,
    after_attempt,
    effective_confidence,
    initial_confidence,
)
from doorstep.domain.selection import Candidate, SelectionPolicy, decide, rank

AS_OF = date(2025, 6, 1)


def candidate(**changes: object) -> Candidate:
    base = dict(
        customer_id="C1",
        max_dpd=45,
        worst_bucket="M2",
        overdue_amount=120_000,
        best_address_confidence=0.7,
        best_address_region="北京市",
    )
    base.update(changes)
    return Candidate(**base)  # type: ignore[arg-type]


def test_default_policy_selects_a_typical_m2_customer() -> None:
    decision = decide(candidate(), SelectionPolicy(), AS_OF)
    assert decision.selected and not decision.failed
    assert decision.priority == 120_000 * 3


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"max_dpd": 30}, "min_dpd"),
        ({"overdue_amount": 49_999}, "min_overdue"),
        ({"best_address_confidence": 0.49}, "address_confidence"),
        ({"on_hold": True}, "on_hold"),
        ({"last_visit_on": date(2025, 5, 20)}, "recent_visit"),
        ({"has_open_case": True}, "open_case"),
    ],
)
def test_each_rule_names_itself(change: dict[str, object], rule: str) -> None:
    decision = decide(candidate(**change), SelectionPolicy(), AS_OF)
    assert not decision.selected
    assert decision.failed == (rule,)


def test_edges_are_inclusive() -> None:
    assert decide(
        candidate(max_dpd=31, overdue_amount=50_000, best_address_confidence=0.5),
        SelectionPolicy(),
        AS_OF,
    ).selected
    assert decide(candidate(last_visit_on=date(2025, 5, 18)), SelectionPolicy(), AS_OF).selected


def test_served_regions_and_skip_trace() -> None:
    policy = SelectionPolicy(served_regions=frozenset({"上海市"}))
    assert decide(candidate(), policy, AS_OF).failed == ("served_region",)
    weak = decide(candidate(best_address_confidence=0.1), SelectionPolicy(), AS_OF)
    assert weak.skip_trace and not weak.selected


def test_rank_respects_capacity_and_priority() -> None:
    decisions = [
        decide(candidate(customer_id=f"C{n}", overdue_amount=60_000 + n), SelectionPolicy(), AS_OF)
        for n in range(5)
    ]
    chosen, spare = rank(decisions, capacity=2)
    assert [d.customer_id for d in chosen] == ["C4", "C3"]
    assert len(spare) == 3


def test_confirmation_moves_confidence_by_the_documented_rule() -> None:
    assert after_attempt("unverified", 0.6, AttemptChannel.CALL, AttemptResult.REACHED) == (
        ContactStatus.CONFIRMED,
        0.9,
    )
    assert after_attempt("confirmed", 0.95, AttemptChannel.SMS, AttemptResult.CONFIRMED)[1] == 0.95
    assert after_attempt("unverified", 0.6, AttemptChannel.CALL, AttemptResult.WRONG_NUMBER) == (
        ContactStatus.INVALID,
        0.05,
    )
    status, confidence = after_attempt(
        "unverified", 0.6, AttemptChannel.CALL, AttemptResult.NO_ANSWER
    )
    assert status is ContactStatus.UNVERIFIED and confidence == pytest.approx(0.51)
    assert effective_confidence(0.8, 0) == 0.8
    assert effective_confidence(0.8, 90) == 0.8
    assert effective_confidence(0.8, 90 + 365) == pytest.approx(0.4)
    assert initial_confidence("third_party", "unverified") < initial_confidence(
        "call", "unverified"
    )
    assert initial_confidence("application", "invalid") == 0.05


def test_the_holdout_is_a_stable_share_drawn_from_customer_and_day() -> None:
    from decimal import Decimal

    from doorstep.domain.selection import in_holdout

    ids = [f"C{n:08d}" for n in range(4000)]
    held = [c for c in ids if in_holdout(c, AS_OF, Decimal("0.05"))]
    assert 150 < len(held) < 250  # about 5%
    assert held == [c for c in ids if in_holdout(c, AS_OF, Decimal("0.05"))]  # deterministic
    next_day = {c for c in ids if in_holdout(c, date(2025, 6, 2), Decimal("0.05"))}
    assert next_day != set(held)  # a new draw each day
    assert not any(in_holdout(c, AS_OF, Decimal(0)) for c in ids)
    assert all(in_holdout(c, AS_OF, Decimal(1)) for c in ids[:50])


def test_a_customer_kept_back_recently_is_not_selected() -> None:
    policy = SelectionPolicy()
    recent = decide(candidate(held_out_on=AS_OF - timedelta(days=10)), policy, AS_OF)
    assert not recent.selected and recent.failed == ("holdout",)
    assert not recent.skip_trace
    assert decide(candidate(held_out_on=AS_OF - timedelta(days=30)), policy, AS_OF).selected
