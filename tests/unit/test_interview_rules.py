"""The interview's rules for who was met: the borrower's answers only from the borrower,
never hardship or evasion concluded from a third party, and a promise above the stated
ability only with a reason (issue 20, finding 4)."""

from __future__ import annotations

from datetime import date

import pytest

from doorstep.domain.errors import InvalidAnswers
from doorstep.domain.selection import Decision, rank_by_city
from doorstep.domain.verdict import Leaning
from doorstep.services.visits.interview import parse_interview

TODAY = date(2024, 6, 3)
BASE = {"disclosure_ack": "on", "address_status": "valid"}
MET = {
    **BASE,
    "met": "borrower",
    "reasons": ["job_loss"],
    "willingness": "3",
    "ability_per_month": "400",
}


def refused(answers: dict[str, str | list[str]]) -> set[str]:
    with pytest.raises(InvalidAnswers) as caught:
        parse_interview(answers, TODAY)
    return {p.field for p in caught.value.problems}


def test_a_relative_is_asked_nothing_about_the_debt() -> None:
    answers = {
        **BASE,
        "met": "family",
        "willingness": "1",
        "ability_per_month": "3000",
        "reasons": ["willful_evasion"],
        "monthly_income": "5000",
    }
    assert refused(answers) == {"willingness", "ability_per_month", "reasons", "monthly_income"}


def test_no_evasion_is_concluded_from_a_relative() -> None:
    assert refused({**BASE, "met": "family", "leaning": "evasion"}) == {"leaning"}
    interview = parse_interview({**BASE, "met": "colleague", "leaning": "unclear"}, TODAY)
    assert interview.leaning is Leaning.NOT_MET
    assert (interview.willingness, interview.ability_per_month) == (None, None)


def test_the_borrower_met_keeps_the_verifiers_call() -> None:
    interview = parse_interview({**MET, "leaning": "evasion"}, TODAY)
    assert interview.leaning is Leaning.EVASION and interview.willingness == 3


def test_a_promise_above_the_stated_ability_needs_a_reason() -> None:
    promise = {**MET, "outcome": "promise", "promise_amount": "800", "promise_date": "2024-06-10"}
    assert refused(promise) == {"promise_reason"}
    kept = parse_interview({**promise, "promise_reason": "salary arrives on the 8th"}, TODAY)
    assert kept.above_ability and kept.promise_reason == "salary arrives on the 8th"
    within = parse_interview({**promise, "promise_amount": "400"}, TODAY)
    assert not within.above_ability


def test_a_new_contact_point_is_read_but_kept_out_of_the_document() -> None:
    interview = parse_interview(
        {
            **BASE,
            "met": "family",
            "new_address": "上海市浦东新区某路1号",
            "new_phone": "13800001111",
        },
        TODAY,
    )
    assert interview.new_phone == "13800001111" and interview.new_address
    assert "new_phone" not in interview.document() and "new_address" not in interview.document()
    assert refused({**BASE, "met": "nobody", "new_phone": "call me"}) == {"new_phone"}


def _d(customer: str, priority: int) -> Decision:
    return Decision(customer, True, (), priority, False)


def test_each_city_fills_only_its_own_capacity() -> None:
    choices = [
        (_d("G1", 900), "广州市"),
        (_d("G2", 800), "广州市"),
        (_d("B1", 500), "北京市"),
        (_d("B2", 400), "北京市"),
        (_d("B3", 300), "北京市"),
    ]
    chosen, spare, unplaced = rank_by_city(choices, {"北京市": 2})
    assert [d.customer_id for d in chosen] == ["B1", "B2"]  # the richer 广州 cases wait
    assert unplaced == {"广州市": 2, "北京市": 1} and len(spare) == 3
    pooled, _, _ = rank_by_city(choices, 2)
    assert [d.customer_id for d in pooled] == ["G1", "G2"]  # one pool: what went wrong
