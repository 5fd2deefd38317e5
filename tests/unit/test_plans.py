"""The plan calculator against published figures, and its rules (refusal above the cap,
affordability, ranking, waivers and settlements)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from doorstep.domain.errors import InvalidValue
from doorstep.domain.plans import (
    Budget,
    Debt,
    OptionKind,
    Terms,
    annualised_rate,
    build_option,
    cash_flows,
    monthly_irr,
    options_for,
    rank,
    standard_terms,
)
from doorstep.domain.schedule import RepaymentMethod

START = date(2024, 1, 15)
EI, EP, IF = (
    RepaymentMethod.EQUAL_INSTALLMENT,
    RepaymentMethod.EQUAL_PRINCIPAL,
    RepaymentMethod.INTEREST_FIRST,
)


def loan(principal_yuan: int, rate: str, months: int, **owed: int) -> Debt:
    return Debt(
        "L1",
        principal_yuan * 100,
        owed.get("interest", 0),
        owed.get("fee", 0),
        owed.get("penalty", 0),
        Decimal(rate),
        months,
    )


def test_mortgage_equal_installment_published_figures() -> None:
    """1,000,000 over 30 years at 4.9%: 5,307.27 a month; 910,615.12 interest with
    interest rounded every month and the residue on the last payment (calculators that
    round only the total show 910,616.19)."""
    option = build_option(
        loan(1_000_000, "0.049", 360),
        Terms(OptionKind.RESCHEDULE, 360, Decimal("0.049"), EI),
        START,
    )
    assert option.schedule[0].amount_due == 530_727
    assert {r.amount_due for r in option.schedule[:-1]} == {530_727}
    assert option.total_interest == 91_061_512
    assert option.total_to_pay == 100_000_000 + 91_061_512
    assert option.annualised_rate == Decimal("4.90")


def test_mortgage_equal_principal_published_figures() -> None:
    option = build_option(
        loan(1_000_000, "0.049", 360),
        Terms(OptionKind.RESCHEDULE, 360, Decimal("0.049"), EP),
        START,
    )
    amounts = [r.amount_due for r in option.schedule]
    assert amounts[0] == 686_111
    assert amounts[0] - amounts[1] == 1_134
    assert amounts[1] - amounts[2] in (1_134, 1_135)  # fen rounding of each month
    assert option.annualised_rate == Decimal("4.90")


def test_consumer_loan_12_percent_published_figures() -> None:
    option = build_option(
        loan(100_000, "0.12", 12), Terms(OptionKind.RESCHEDULE, 12, Decimal("0.12"), EI), START
    )
    assert option.monthly_payment == 888_488
    assert option.total_interest == 661_853
    assert option.annualised_rate == Decimal("12.00")


def test_twelve_payments_of_1060_on_12000_is_10_90_percent() -> None:
    assert annualised_rate([-1_200_000] + [106_000] * 12) == Decimal("10.90")
    # the "flat" 6% a year it looks like is not the rate: the IRR is
    assert Decimal("0.9") < monthly_irr([-1_200_000] + [106_000] * 12) * 100 < Decimal("0.91")


def test_irr_refuses_flows_without_an_outflow_then_inflows() -> None:
    with pytest.raises(InvalidValue):
        monthly_irr([100, 100])
    with pytest.raises(InvalidValue):
        monthly_irr([-100, 0, 0])


def test_an_option_above_the_cap_is_refused_with_the_reason() -> None:
    debt = loan(10_000, "0.30", 12)
    option = build_option(debt, Terms(OptionKind.RESCHEDULE, 12, Decimal("0.30"), EI), START)
    assert option.annualised_rate == Decimal("30.00")
    assert option.refused is not None and "24%" in option.refused
    assert option.refused_zh is not None and "24%" in option.refused_zh
    allowed = build_option(
        debt, Terms(OptionKind.RESCHEDULE, 12, Decimal("0.30"), EI), START, cap=Decimal("0.36")
    )
    assert allowed.refused is None


def test_grace_months_are_interest_only_then_amortise() -> None:
    debt = loan(12_000, "0.12", 12)
    option = build_option(
        debt, Terms(OptionKind.GRACE, 15, Decimal("0.12"), EI, grace_months=3), START
    )
    first = option.schedule[:3]
    assert [r.principal_due for r in first] == [0, 0, 0]
    assert [r.interest_due for r in first] == [12_000, 12_000, 12_000]
    assert sum(r.principal_due for r in option.schedule) == 1_200_000
    assert [r.seq for r in option.schedule] == list(range(1, 16))
    assert option.schedule[3].due_on == date(2024, 4, 15)
    assert option.annualised_rate == Decimal("12.00")


def test_waivers_and_settlement_discounts_are_concessions() -> None:
    debt = loan(10_000, "0.12", 6, interest=20_000, penalty=15_001)
    waived = build_option(
        debt, Terms(OptionKind.WAIVE, 6, Decimal("0.12"), EI, penalty_waiver=Decimal("0.5")), START
    )
    assert waived.concession == 7_501  # half of 150.01 yuan, half up
    assert waived.base == 1_000_000  # the principal alone bears interest
    assert waived.arrears_balance == 20_000 + 15_001 - 7_501
    settle = build_option(
        debt, Terms(OptionKind.SETTLE, 3, discount=Decimal("0.2"), penalty_waiver=Decimal(1)), START
    )
    owed = debt.total - 15_001
    assert settle.concession == 15_001 + owed // 5 and settle.discount == owed // 5
    assert settle.total_to_pay == owed - owed // 5 == settle.base
    assert len(settle.schedule) == 3
    # the borrower pays back less than they owed: a discount, never a (negative) rate
    assert settle.annualised_rate is None and settle.effective_rate is None


def test_terms_are_checked_naming_the_field() -> None:
    debt = loan(10_000, "0.12", 6)
    for terms, field in [
        (Terms(OptionKind.EXTEND, 0, Decimal("0.1")), "months"),
        (Terms(OptionKind.EXTEND, 12, Decimal("1.5")), "annual_rate"),
        (Terms(OptionKind.GRACE, 6, Decimal("0.1"), grace_months=6), "grace_months"),
        (
            Terms(OptionKind.WAIVE, 6, Decimal("0.1"), penalty_waiver=Decimal("1.2")),
            "penalty_waiver",
        ),
        (Terms(OptionKind.EXTEND, 6, Decimal("0.1"), discount=Decimal("0.1")), "discount"),
        (Terms(OptionKind.SETTLE, 1, discount=Decimal(1)), "discount"),
    ]:
        with pytest.raises(InvalidValue, match=field):
            build_option(debt, terms, START)


def test_affordability_uses_the_share_of_disposable_income() -> None:
    budget = Budget(income=600_000, essential_expenses=450_000)  # 1,500 left, 750 allowed
    assert budget.allowance == 75_000
    debt = loan(12_000, "0.12", 12)
    twelve = build_option(
        debt, Terms(OptionKind.RESCHEDULE, 12, Decimal("0.12")), START, budget=budget
    )
    twenty_four = build_option(
        debt, Terms(OptionKind.EXTEND, 24, Decimal("0.12")), START, budget=budget
    )
    assert twelve.monthly_payment == 106_619 and twelve.affordable is False
    # the largest installment: the last one (564.88 level, plus the rounding residue)
    assert twenty_four.monthly_payment == 56_494 and twenty_four.affordable is True


def test_ranking_affordable_first_then_cheapest_then_recovery() -> None:
    budget = Budget(income=600_000, essential_expenses=450_000)
    debt = loan(12_000, "0.12", 12, penalty=30_000)
    menu = options_for([debt], START, budget=budget)
    ranked = menu.options["L1"]
    assert ranked == rank(reversed(ranked))
    flags = [(o.refused is not None, o.affordable is False) for o in ranked]
    assert flags == sorted(flags)
    affordable = [o for o in ranked if o.affordable and not o.refused]
    assert affordable and [o.total_to_pay for o in affordable] == sorted(
        o.total_to_pay for o in affordable
    )


def test_standard_menu_has_every_kind_and_method() -> None:
    terms = standard_terms(loan(12_000, "0.12", 10, penalty=100))
    assert {t.kind for t in terms} == set(OptionKind)
    assert {t.method for t in terms if t.kind is OptionKind.EXTEND} == set(RepaymentMethod)
    assert len({t.key for t in terms}) == len(terms)


def test_terms_round_trip_through_json() -> None:
    for terms in standard_terms(loan(12_000, "0.12", 10)):
        assert Terms.from_json(terms.to_json()) == terms
    with pytest.raises(InvalidValue):
        Terms.from_json({"kind": "nonsense", "months": 3})


def test_cash_flows_start_with_the_base() -> None:
    option = build_option(
        loan(1_000, "0.06", 3), Terms(OptionKind.RESCHEDULE, 3, Decimal("0.06")), START
    )
    flows = cash_flows(option.base, option.schedule)
    assert flows[0] == -100_000 and sum(flows[1:]) == option.total_to_pay


def test_interest_first_puts_the_principal_last() -> None:
    option = build_option(
        loan(12_000, "0.12", 12), Terms(OptionKind.EXTEND, 12, Decimal("0.12"), IF), START
    )
    assert option.schedule[-1].principal_due == 1_200_000
    assert option.monthly_payment == 1_212_000
    assert option.annualised_rate == Decimal("12.00")
