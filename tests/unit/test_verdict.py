"""The next-step rule table: each row, its order, and the broken-promise limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from doorstep.domain.verdict import (
    RULES,
    AddressStatus,
    Leaning,
    NextStep,
    VerdictFacts,
    decide,
)

REACHED = VerdictFacts(
    reached=True, address_status=AddressStatus.VALID, leaning=Leaning.UNCLEAR, ability_per_month=0
)


def step(**changes: object) -> tuple[NextStep, str]:
    decision = decide(replace(REACHED, **changes))  # type: ignore[arg-type]
    return decision.next_step, decision.rule


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"vulnerable": True}, (NextStep.SPECIALIST, "vulnerable")),
        ({"address_status": AddressStatus.INVALID}, (NextStep.SKIP_TRACE, "address_invalid")),
        ({"address_status": AddressStatus.MOVED}, (NextStep.SKIP_TRACE, "address_invalid")),
        ({"reached": False}, (NextStep.REVISIT, "not_reached")),
        ({"reached": False, "unreached_before": 2}, (NextStep.SKIP_TRACE, "not_reached_again")),
        (
            {"plan_requested": True, "ability_per_month": 50_000},
            (NextStep.PLAN_OFFER, "plan_requested"),
        ),
        ({"promised": True}, (NextStep.FOLLOW_PROMISE, "promise")),
        (
            {"leaning": Leaning.EVASION, "ability_per_month": 100_000},
            (NextStep.LEGAL_REVIEW, "evasion_with_ability"),
        ),
        ({"leaning": Leaning.EVASION}, (NextStep.REVIEW, "default")),
        (
            {"leaning": Leaning.HARDSHIP, "ability_per_month": 30_000},
            (NextStep.PLAN_OFFER, "hardship_with_ability"),
        ),
        ({"leaning": Leaning.HARDSHIP}, (NextStep.HARDSHIP_REVIEW, "hardship_no_ability")),
        (
            {"broken_promises": 2, "ability_per_month": 10_000},
            (NextStep.PLAN_OFFER, "promises_broken"),
        ),
        ({}, (NextStep.REVIEW, "default")),
    ],
)
def test_each_row_of_the_table(changes: dict[str, object], expected: tuple[NextStep, str]) -> None:
    assert step(**changes) == expected


def test_vulnerability_wins_over_everything() -> None:
    assert step(
        vulnerable=True,
        address_status=AddressStatus.INVALID,
        reached=False,
        promised=True,
        leaning=Leaning.EVASION,
        ability_per_month=1_000_000,
    ) == (NextStep.SPECIALIST, "vulnerable")


def test_an_invalid_address_wins_over_not_reached() -> None:
    assert step(reached=False, address_status=AddressStatus.INVALID)[0] is NextStep.SKIP_TRACE


def test_after_n_broken_promises_no_new_promise_only_a_plan_or_a_review() -> None:
    promised = replace(REACHED, promised=True, broken_promises=1)
    assert decide(promised).promise_allowed
    assert decide(promised).next_step is NextStep.FOLLOW_PROMISE
    twice = replace(promised, broken_promises=2)
    assert not decide(twice).promise_allowed
    assert decide(twice).next_step is NextStep.REVIEW  # no ability: a review
    assert decide(replace(twice, ability_per_month=20_000)).next_step is NextStep.PLAN_OFFER
    # the limit is a setting
    assert decide(twice, max_broken_promises=3).next_step is NextStep.FOLLOW_PROMISE
    assert not decide(replace(REACHED, vulnerable=True)).promise_allowed


def test_every_step_is_reachable_and_the_last_rule_always_holds() -> None:
    assert {s for _, _, s in RULES} == set(NextStep)
    assert RULES[-1][0] == "default"
    names = [name for name, _, _ in RULES]
    assert len(names) == len(set(names))
