"""Hypothesis strategies for loans with payment histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from doorstep.domain.delinquency import Payment
from doorstep.domain.schedule import Installment, RepaymentMethod, build_schedule


@dataclass(frozen=True)
class LoanCase:
    principal: int
    annual_rate: Decimal
    months: int
    method: RepaymentMethod
    disbursed_on: date
    first_due_on: date
    penalty_rate_units: int
    installments: list[Installment]
    payments: list[Payment]


SNAPSHOT_FIELDS = (
    "dpd",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "outstanding_principal",
    "unapplied",
    "paid_total",
)
"""The fields of domain.delinquency.Snapshot that the batch must reproduce."""

rates = st.decimals(min_value=Decimal(0), max_value=Decimal("0.36"), places=4)
penalty_units = st.sampled_from([0, 50_000, 33_333, 99_999, 12_345])  # ×1e-8 per day


@st.composite
def loan_cases(draw: st.DrawFn, prefix: str = "P") -> LoanCase:
    principal = draw(st.integers(min_value=100, max_value=20_000_000))
    months = draw(st.sampled_from([1, 3, 6, 12, 24]))
    method = draw(st.sampled_from(list(RepaymentMethod)))
    rate = draw(rates)
    disbursed = date(2023, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    first_due = disbursed + timedelta(days=draw(st.integers(28, 31)))
    rows = build_schedule(principal, rate, months, method, first_due)
    behaviour = draw(st.sampled_from(["on_time", "stop", "random", "partial"]))
    payments: list[Payment] = []
    if behaviour == "random":
        for n in range(draw(st.integers(0, 12))):
            day = first_due + timedelta(days=draw(st.integers(-20, 500)))
            amount = draw(st.integers(1, max(2, principal // 4)))
            payments.append(Payment(f"{prefix}{n:03d}", day, amount))
    else:
        stop = draw(st.integers(0, months)) if behaviour != "on_time" else months
        lateness = draw(st.integers(0, 40))
        for row in rows[:stop]:
            share = draw(st.integers(30, 100)) if behaviour == "partial" else 100
            amount = max(1, row.amount_due * share // 100)
            payments.append(
                Payment(f"{prefix}{row.seq:03d}", row.due_on + timedelta(days=lateness), amount)
            )
    return LoanCase(
        principal, rate, months, method, disbursed, first_due, draw(penalty_units), rows, payments
    )
