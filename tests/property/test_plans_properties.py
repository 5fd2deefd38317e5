"""Plans for any debt, terms and rules: no arrears bear interest unless the pack allows it,
every schedule adds up to the fen, the rates agree with numpy-financial's `irr`, the
effective rate is never below the annualised one, the cap is tested on the amount
financed, and a settlement has a discount and no rate."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from doorstep.domain.errors import InvalidValue
from doorstep.domain.plans import (
    ArrearsPolicy,
    Budget,
    Debt,
    OptionKind,
    PlanOption,
    PlanRules,
    Terms,
    build_option,
    cash_flows,
    options_for,
    rank,
)
from doorstep.domain.rates import annualised_rate, quote
from doorstep.domain.schedule import RepaymentMethod

START = date(2024, 1, 31)
shares = st.sampled_from(
    [Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal("0.333"), Decimal(1)]
)
rates = st.decimals(Decimal(0), Decimal("0.36"), places=4)


def close(theirs: Decimal, ours: Decimal) -> bool:
    """Within 0.01 percentage point (or a billionth, for the absurd rates of capitalising
    a large arrears onto a tiny principal, beyond a float's digits)."""
    return abs(theirs - ours) <= max(Decimal("0.01"), abs(ours) * Decimal("1e-9"))


@st.composite
def debts(draw: st.DrawFn) -> Debt:
    return Debt(
        "L1",
        principal=draw(st.integers(1, 1_000_000_00)),
        interest=draw(st.integers(0, 5_000_00)),
        fee=draw(st.integers(0, 500_00)),
        penalty=draw(st.integers(0, 5_000_00)),
        annual_rate=draw(rates),
        months_left=draw(st.integers(0, 120)),
        method=draw(st.sampled_from(list(RepaymentMethod))),
    )


plan_rules = st.builds(
    PlanRules,
    cap=st.sampled_from([Decimal("0.24"), Decimal("0.36"), Decimal("0.1")]),
    arrears=st.sampled_from(list(ArrearsPolicy)),
    capitalisation_allowed=st.booleans(),
)


@st.composite
def amortising_terms(draw: st.DrawFn, debt: Debt, rules: PlanRules) -> Terms:
    months = draw(st.integers(1, 36) | st.integers(37, 240))  # long ones are slow for npf
    return Terms(
        kind=draw(st.sampled_from([k for k in OptionKind if k is not OptionKind.SETTLE])),
        months=months,
        annual_rate=draw(rates),
        method=draw(st.sampled_from(list(RepaymentMethod))),
        grace_months=draw(st.integers(0, min(6, months - 1))),
        penalty_waiver=draw(shares),
        interest_waiver=draw(shares),
        upfront_fee=draw(st.integers(0, debt.principal - 1) | st.just(0)),
        capitalise=rules.capitalisation_allowed and draw(st.booleans()),
    )


@st.composite
def settlements(draw: st.DrawFn) -> Terms:
    return Terms(
        OptionKind.SETTLE,
        months=draw(st.integers(1, 12)),
        discount=draw(st.decimals(Decimal(0), Decimal("0.9"), places=3)),
        penalty_waiver=draw(shares),
    )


@st.composite
def plans(draw: st.DrawFn) -> tuple[Debt, PlanRules, PlanOption]:
    debt, rules = draw(debts()), draw(plan_rules)
    terms = draw(st.one_of(amortising_terms(debt, rules), settlements()))
    try:
        return debt, rules, build_option(debt, terms, START, rules=rules)
    except InvalidValue as exc:  # a 1-fen debt discounted to nothing is no plan
        assume("nothing left" not in str(exc))
        raise


@settings(max_examples=200, deadline=None)
@given(plan=plans())
def test_arrears_bear_interest_only_where_the_pack_allows(
    plan: tuple[Debt, PlanRules, PlanOption],
) -> None:
    debt, rules, option = plan
    if option.is_settlement:
        assert option.total_interest == 0 and option.base <= debt.total
    elif rules.capitalisation_allowed and option.terms.capitalise:
        assert option.base == debt.principal + option.capitalised <= debt.total
    else:
        assert option.base == debt.principal and option.capitalised == 0
    if rules.arrears is ArrearsPolicy.WAIVE:
        assert option.arrears_balance == option.capitalised == 0


@settings(max_examples=200, deadline=None)
@given(plan=plans())
def test_every_plan_adds_up_to_the_fen(plan: tuple[Debt, PlanRules, PlanOption]) -> None:
    debt, _, option = plan
    rows = option.schedule
    terms = option.terms
    assert len(rows) == terms.months
    assert [r.seq for r in rows] == list(range(1, terms.months + 1))
    assert all(a.due_on < b.due_on for a, b in itertools.pairwise(rows))
    assert all(min(r.principal_due, r.interest_due, r.fee_due, r.arrears_due) >= 0 for r in rows)
    assert sum(r.principal_due for r in rows) == option.base
    assert sum(r.arrears_due for r in rows) == option.arrears_balance
    assert option.total_fees == terms.upfront_fee + sum(r.fee_due for r in rows)
    assert option.total_to_pay == terms.upfront_fee + sum(r.amount_due for r in rows)
    assert option.total_to_pay == (
        option.base + option.total_interest + option.total_fees + option.arrears_balance
    )
    assert option.base + option.arrears_balance + option.concession == debt.total
    assert option.monthly_payment == max(r.amount_due for r in rows)


@settings(max_examples=150, deadline=None)
@given(plan=plans())
@example(
    plan=(
        Debt("L1", 1_200_000, 0, 0, 0, Decimal("0.06"), 12),
        PlanRules(),
        build_option(
            Debt("L1", 1_200_000, 0, 0, 0, Decimal("0.06"), 12),
            Terms(OptionKind.RESCHEDULE, 12, Decimal("0.1090")),
            START,
        ),
    )
)
def test_rates_agree_with_numpy_financial_and_the_cap_is_on_the_amount_financed(
    plan: tuple[Debt, PlanRules, PlanOption],
) -> None:
    debt, rules, option = plan
    if option.is_settlement:  # a discount, never a rate
        assert option.annualised_rate is None and option.effective_rate is None
        assert option.cash_flows() == [] and option.refused is None
        assert option.discount >= 0 and option.discount <= option.concession
        return
    assert option.financed == debt.principal - option.terms.upfront_fee
    flows = option.cash_flows()
    assert flows == cash_flows(option.financed, option.schedule)
    assert flows[0] == -(debt.principal - option.terms.upfront_fee)  # never the base
    assert option.annualised_rate == annualised_rate(flows)
    assert option.effective_rate is not None and option.annualised_rate is not None
    assert option.effective_rate >= option.annualised_rate
    assert (option.refused is not None) == (option.annualised_rate > rules.cap * 100)
    with np.errstate(all="ignore"):
        theirs = npf.irr(np.array(flows, dtype=float))
    assume(np.isfinite(theirs))
    monthly = Decimal(str(theirs))
    assert close(monthly * 12 * 100, option.annualised_rate)
    assert close(((1 + monthly) ** 12 - 1) * 100, option.effective_rate)


@settings(max_examples=100, deadline=None)
@given(debt=debts(), months=st.integers(1, 240), arrears=st.sampled_from(list(ArrearsPolicy)))
def test_capitalising_without_the_packs_leave_is_refused(
    debt: Debt, months: int, arrears: ArrearsPolicy
) -> None:
    capitalising = Terms(OptionKind.RESCHEDULE, months, debt.annual_rate, capitalise=True)
    with pytest.raises(InvalidValue, match="capitalise"):
        build_option(debt, capitalising, START, rules=PlanRules(arrears=arrears))


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(1, 10_000_000_00),
    fee_share=st.integers(0, 99),
    shares=st.lists(st.integers(0, 300), min_size=1, max_size=60),  # % of the amount each
)
def test_a_quote_is_a_rate_or_a_discount_never_both(
    amount: int, fee_share: int, shares: list[int]
) -> None:
    payments = [amount * share // 100 for share in shares]
    assume(any(payments))
    fee = amount * fee_share // 100
    found = quote(amount, fee, payments)
    assert (found.rates is None) != (found.discount is None)
    if found.discount is not None:
        assert found.discount == amount - fee - sum(payments) > 0
        return
    assert found.rates is not None and found.rates.effective >= found.rates.annualised
    with np.errstate(all="ignore"):
        theirs = npf.irr(np.array([fee - amount, *payments], dtype=float))
    assume(np.isfinite(theirs))
    assert close(Decimal(str(theirs)) * 1200, found.rates.annualised)


@settings(max_examples=50, deadline=None)
@given(debt=debts(), income=st.integers(0, 50_000_00), expenses=st.integers(0, 50_000_00))
def test_ranking_puts_allowed_affordable_cheap_options_first(
    debt: Debt, income: int, expenses: int
) -> None:
    ranked = options_for([debt], START, budget=Budget(income, expenses)).options["L1"]
    keys = [(o.refused is not None, o.affordable is False, o.total_to_pay) for o in ranked]
    assert keys == sorted(keys)
    assert rank(reversed(ranked)) == ranked
