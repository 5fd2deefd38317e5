"""Plans for any debt and terms: every schedule repays exactly the amount it says, and the
IRR-method annualised rate agrees with numpy-financial's `irr` to 0.01 percentage point."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import numpy as np
import numpy_financial as npf
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from doorstep.domain.plans import (
    Budget,
    Debt,
    OptionKind,
    Terms,
    build_option,
    cash_flows,
    options_for,
    rank,
)
from doorstep.domain.schedule import RepaymentMethod

START = date(2024, 1, 31)
shares = st.sampled_from(
    [Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal("0.333"), Decimal(1)]
)


@st.composite
def debts(draw: st.DrawFn) -> Debt:
    return Debt(
        "L1",
        principal=draw(st.integers(1, 1_000_000_00)),
        interest=draw(st.integers(0, 5_000_00)),
        fee=draw(st.integers(0, 500_00)),
        penalty=draw(st.integers(0, 5_000_00)),
        annual_rate=draw(st.decimals(Decimal(0), Decimal("0.36"), places=4)),
        months_left=draw(st.integers(0, 120)),
        method=draw(st.sampled_from(list(RepaymentMethod))),
    )


@st.composite
def amortising_terms(draw: st.DrawFn) -> Terms:
    months = draw(st.integers(1, 240))
    return Terms(
        kind=draw(st.sampled_from([k for k in OptionKind if k is not OptionKind.SETTLE])),
        months=months,
        annual_rate=draw(st.decimals(Decimal(0), Decimal("0.36"), places=4)),
        method=draw(st.sampled_from(list(RepaymentMethod))),
        grace_months=draw(st.integers(0, min(6, months - 1))),
        penalty_waiver=draw(shares),
        interest_waiver=draw(shares),
    )


@st.composite
def settlements(draw: st.DrawFn) -> Terms:
    return Terms(
        OptionKind.SETTLE,
        months=draw(st.integers(1, 12)),
        discount=draw(st.decimals(Decimal(0), Decimal("0.9"), places=3)),
        penalty_waiver=draw(shares),
    )


@settings(max_examples=200, deadline=None)
@given(debt=debts(), terms=st.one_of(amortising_terms(), settlements()))
def test_every_schedule_repays_exactly_what_it_says(debt: Debt, terms: Terms) -> None:
    option = build_option(debt, terms, START)
    rows = option.schedule
    assert len(rows) == terms.months
    assert [r.seq for r in rows] == list(range(1, terms.months + 1))
    assert all(r.principal_due >= 0 and r.interest_due >= 0 and r.fee_due >= 0 for r in rows)
    assert sum(r.principal_due for r in rows) == option.base
    assert sum(r.amount_due for r in rows) == option.total_to_pay
    assert option.total_to_pay == option.base + option.total_interest + option.total_fees
    assert option.base + option.concession == debt.total
    assert option.monthly_payment == max(r.amount_due for r in rows)
    assert all(a.due_on < b.due_on for a, b in itertools.pairwise(rows))


@settings(max_examples=200, deadline=None)
@given(debt=debts(), terms=st.one_of(amortising_terms(), settlements()))
@example(
    debt=Debt("L1", 1_200_000, 0, 0, 0, Decimal("0.06"), 12),
    terms=Terms(OptionKind.RESCHEDULE, 12, Decimal("0.1090")),
)
def test_irr_rate_agrees_with_numpy_financial(debt: Debt, terms: Terms) -> None:
    option = build_option(debt, terms, START)
    if terms.kind is OptionKind.SETTLE:  # released from what was owed, for less
        assert option.base <= option.financed <= debt.total
    else:
        assert option.financed == option.base
    flows = option.cash_flows()
    assert flows == cash_flows(option.financed, option.schedule)
    assume(any(flows[1:]))
    with np.errstate(all="ignore"):
        theirs = npf.irr(np.array(flows, dtype=float))
    assume(np.isfinite(theirs))
    assert abs(Decimal(str(theirs)) * 12 * 100 - option.annualised_rate) <= Decimal("0.01")


@settings(max_examples=50, deadline=None)
@given(debt=debts(), income=st.integers(0, 50_000_00), expenses=st.integers(0, 50_000_00))
def test_ranking_puts_allowed_affordable_cheap_options_first(
    debt: Debt, income: int, expenses: int
) -> None:
    ranked = options_for([debt], START, budget=Budget(income, expenses)).options["L1"]
    keys = [(o.refused is not None, o.affordable is False, o.total_to_pay) for o in ranked]
    assert keys == sorted(keys)
    assert rank(reversed(ranked)) == ranked
