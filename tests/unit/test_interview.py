"""The interview form's field readers, one at a time (no database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from doorstep.domain.errors import InvalidAnswers
from doorstep.domain.verdict import AddressStatus, Leaning, Met
from doorstep.services.visits.interview import (
    AnswerReader,
    Answers,
    parse_interview,
    read_address_status,
    read_dependants,
    read_disclosure_ack,
    read_leaning,
    read_met,
    read_outcome,
    read_promise,
    read_reasons,
    read_vulnerabilities,
    read_willingness,
)

TODAY = date(2024, 5, 1)


def fields(form: AnswerReader) -> list[str]:
    return [p.field for p in form.problems]


def test_one_takes_the_last_value_stripped_and_many_drops_blanks() -> None:
    form = AnswerReader({"a": ["x", " y "], "b": ["", " c ", "  "], "c": "single"})
    assert form.one("a") == "y"
    assert form.one("missing") == ""
    assert form.many("b") == ["c"]
    assert form.many("c") == ["single"]
    assert form.problems == []


def test_free_text_is_limited_and_blank_is_none() -> None:
    form = AnswerReader({"statement": "x" * 2001, "observations": "  "})
    assert form.free_text("observations") is None
    assert form.free_text("statement") == "x" * 2001
    assert fields(form) == ["statement"]
    assert form.problems[0].message.startswith("borrower's statement: at most 2000")
    assert form.problems[0].message_zh.startswith("借款人陈述：")


@pytest.mark.parametrize(
    ("text", "required", "fen", "problem"),
    [
        ("12.34", False, 1234, False),
        ("", False, None, False),
        ("", True, None, True),
        ("abc", False, None, True),
        ("-1", False, None, True),
        ("100000001", False, None, True),
    ],
)
def test_money_in_yuan_as_fen(text: str, required: bool, fen: int | None, problem: bool) -> None:
    form = AnswerReader({"monthly_income": text})
    assert form.money("monthly_income", required=required) == fen
    assert bool(form.problems) is problem


def test_choice_with_a_default_and_without() -> None:
    form = AnswerReader({"met": "stranger"})
    assert form.choice("met", ["borrower"]) is None
    assert form.choice("leaning", ["unclear"], "unclear") == "unclear"
    assert form.choice("outcome", ["none"]) is None  # blank and no default: required
    assert fields(form) == ["met", "outcome"]


def test_met_address_and_leaning_fall_back_when_refused() -> None:
    form = AnswerReader({"met": "?", "address_status": "moved"})
    assert read_met(form) is Met.NOBODY
    assert read_address_status(form) is AddressStatus.MOVED
    assert read_leaning(form, reached=True) is Leaning.UNCLEAR
    assert fields(form) == ["met"]


@pytest.mark.parametrize(("value", "ok"), [("on", True), ("1", True), ("", False), ("no", False)])
def test_disclosure_must_be_acknowledged(value: str, ok: bool) -> None:
    form = AnswerReader({"disclosure_ack": value})
    read_disclosure_ack(form)
    assert fields(form) == ([] if ok else ["disclosure_ack"])


def test_reasons_imply_the_primary_when_only_one_is_chosen() -> None:
    form = AnswerReader({"reasons": ["medical"]})
    assert read_reasons(form, reached=True) == (["medical"], "medical")
    assert form.problems == []


def test_reasons_problems() -> None:
    form = AnswerReader({"reasons": ["medical", "job_loss", "bogus"]})
    assert read_reasons(form, reached=False) == (["medical", "job_loss", "bogus"], None)
    assert fields(form) == ["reasons", "primary_reason"]
    met = AnswerReader({})
    read_reasons(met, reached=True)
    assert fields(met) == ["reasons"]
    stray = AnswerReader({"reasons": ["medical"], "primary_reason": "job_loss"})
    assert read_reasons(stray, reached=True) == (["medical"], "job_loss")
    assert fields(stray) == ["primary_reason"]


@pytest.mark.parametrize(
    ("raw", "reached", "value", "problem"),
    [
        ("3", True, 3, False),
        ("6", False, None, True),
        ("", True, None, True),
        ("", False, None, False),
    ],
)
def test_willingness(raw: str, reached: bool, value: int | None, problem: bool) -> None:
    form = AnswerReader({"willingness": raw})
    assert read_willingness(form, reached) == value
    assert bool(form.problems) is problem


@pytest.mark.parametrize(
    ("raw", "value", "problem"),
    [("0", 0, False), ("30", 30, False), ("31", None, True), ("-1", None, True), ("", None, False)],
)
def test_dependants(raw: str, value: int | None, problem: bool) -> None:
    form = AnswerReader({"dependants": raw})
    assert read_dependants(form) == value
    assert bool(form.problems) is problem


def test_vulnerabilities_are_known_flags() -> None:
    form = AnswerReader({"vulnerabilities": ["illness", "zz"]})
    assert read_vulnerabilities(form) == ["illness", "zz"]
    assert fields(form) == ["vulnerabilities"]


def test_a_promise_is_more_than_zero_within_ninety_days() -> None:
    good = AnswerReader({"promise_amount": "300", "promise_date": "2024-07-30"})
    assert read_promise(good, TODAY) == (30000, date(2024, 7, 30))
    assert good.problems == []
    late = (TODAY + timedelta(days=91)).isoformat()
    bad = AnswerReader({"promise_amount": "0", "promise_date": late})
    assert read_promise(bad, TODAY) == (0, None)
    assert fields(bad) == ["promise_amount", "promise_date"]
    missing = AnswerReader({})
    assert read_promise(missing, TODAY) == (None, None)
    assert fields(missing) == ["promise_amount", "promise_date"]


def test_only_the_borrower_promises_or_asks_for_a_plan() -> None:
    form = AnswerReader({"outcome": "plan"})
    assert read_outcome(form, reached=False, today=TODAY) == ("plan", None, None)
    assert fields(form) == ["outcome"]
    form = AnswerReader({"outcome": "promise", "promise_amount": "5", "promise_date": "2024-05-02"})
    assert read_outcome(form, reached=False, today=TODAY) == ("promise", 500, date(2024, 5, 2))
    assert fields(form) == ["outcome"]
    assert read_outcome(AnswerReader({}), reached=False, today=TODAY) == ("none", None, None)


def test_parse_interview_reports_every_problem_in_the_form_order() -> None:
    answers: Answers = {"met": "borrower", "dependants": "x", "statement": "y" * 2001}
    with pytest.raises(InvalidAnswers) as refused:
        parse_interview(answers, TODAY)
    assert [p.field for p in refused.value.problems] == [
        "disclosure_ack",
        "address_status",
        "reasons",
        "willingness",
        "ability_per_month",
        "dependants",
        "statement",
    ]
