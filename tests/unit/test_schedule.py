"""Repayment schedules against published figures, calendar clamping and edge cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from doorstep.domain.calendar import add_months
from doorstep.domain.errors import InvalidValue
from doorstep.domain.schedule import (
    Installment,
    RepaymentMethod,
    build_schedule,
    level_payment,
    month_interest,
    remaining_balances,
)

START = date(2024, 1, 15)
MORTGAGE = (100_000_000, Decimal("0.049"), 360)  # 1,000,000 yuan, 30 years, 4.9 %


def total_interest(rows: list[Installment]) -> int:
    return sum(r.interest_due for r in rows)


# --- published figures -------------------------------------------------------------------


def test_mortgage_equal_installment_published_figures() -> None:
    """1,000,000 yuan / 30 y / 4.9 % 等额本息: 5,307.27 a month, 910,615.12 total interest."""
    assert level_payment(*MORTGAGE) == 530_727
    rows = build_schedule(*MORTGAGE, RepaymentMethod.EQUAL_INSTALLMENT, START)
    assert len(rows) == 360
    assert all(r.amount_due == 530_727 for r in rows[:-1])
    assert total_interest(rows) == 91_061_512
    assert sum(r.principal_due for r in rows) == 100_000_000


def test_mortgage_equal_principal_published_figures() -> None:
    """等额本金 on the same loan: first payment 6,861.11, then falling by 11.34 a month (the
    interest drop 2,777.78 × 4.9 % / 12 = 11.3426 yuan rounds to 11.34 or 11.35 in fen)."""
    rows = build_schedule(*MORTGAGE, RepaymentMethod.EQUAL_PRINCIPAL, START)
    assert rows[0].amount_due == 686_111
    assert rows[0].principal_due == 277_778
    assert rows[0].interest_due == 408_333
    drops = [a.amount_due - b.amount_due for a, b in pairwise(rows[:-1])]
    assert set(drops) == {1134, 1135}
    assert rows[1].amount_due == 686_111 - 1134
    # the average drop over the regular months is 11.34 yuan (1134.26 fen)
    assert round(Fraction(sum(drops), len(drops)), 2) == Fraction(113426, 100)


def test_consumer_loan_12_percent_published_figures() -> None:
    """100,000 yuan at 12 % over 12 months: 8,884.88 a month, 6,618.53 total interest."""
    assert level_payment(10_000_000, Decimal("0.12"), 12) == 888_488
    rows = build_schedule(10_000_000, Decimal("0.12"), 12, "equal_installment", START)
    assert [r.amount_due for r in rows[:-1]] == [888_488] * 11
    assert total_interest(rows) == 661_853
    assert rows[0].interest_due == 100_000


# --- calendar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 2, date(2024, 3, 31)),
        (date(2024, 1, 31), 3, date(2024, 4, 30)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2024, 1, 15), 0, date(2024, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 1, 30), 1, date(2024, 2, 29)),
        (date(2024, 5, 31), 25, date(2026, 6, 30)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    """add_months keeps the day of month and clamps to the month's last day (leap aware)."""
    assert add_months(start, months) == expected


def test_schedule_from_the_31st_returns_to_the_31st() -> None:
    """A schedule starting on the 31st is clamped in short months but never drifts: every
    month that has a 31st is due on the 31st."""
    rows = build_schedule(1_200_000, Decimal("0.1"), 14, "equal_principal", date(2024, 1, 31))
    assert [r.due_on for r in rows] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
        date(2024, 8, 31),
        date(2024, 9, 30),
        date(2024, 10, 31),
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 28),
    ]
    assert [r.seq for r in rows] == list(range(1, 15))


# --- methods and edge cases ---------------------------------------------------------------


def test_interest_first_pays_principal_on_the_last_installment() -> None:
    """先息后本: the same interest every month and the whole principal on the last one."""
    rows = build_schedule(1_000_000, Decimal("0.18"), 6, "interest_first", START)
    assert [r.interest_due for r in rows] == [15_000] * 6
    assert [r.principal_due for r in rows] == [0] * 5 + [1_000_000]
    assert remaining_balances(1_000_000, rows) == [1_000_000] * 5 + [0]


def test_interest_first_rounds_interest_half_up() -> None:
    """Interest of 100 fen at 6 % is 0.5 fen a month and rounds up to 1 fen every month."""
    rows = build_schedule(100, Decimal("0.06"), 3, "interest_first", START)
    assert [r.interest_due for r in rows] == [1, 1, 1]


@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_zero_rate_loan(method: RepaymentMethod) -> None:
    """At 0 % nothing accrues: interest is 0 and principal parts sum to the principal."""
    rows = build_schedule(1_000_000, Decimal(0), 3, method, START)
    assert all(r.interest_due == 0 for r in rows)
    assert sum(r.principal_due for r in rows) == 1_000_000
    if method is RepaymentMethod.INTEREST_FIRST:
        assert [r.principal_due for r in rows] == [0, 0, 1_000_000]
    else:
        assert [r.principal_due for r in rows] == [333_333, 333_333, 333_334]


def test_zero_rate_level_payment_rounds_half_up() -> None:
    """At 0 % the level payment is principal / months rounded half up (5 / 2 = 2.5 → 3)."""
    assert level_payment(5, Decimal(0), 2) == 3
    assert level_payment(1_000_000, Decimal(0), 3) == 333_333
    rows = build_schedule(5, Decimal(0), 2, "equal_installment", START)
    assert [r.principal_due for r in rows] == [3, 2]


@pytest.mark.parametrize(
    ("principal", "rate", "months"),
    [
        (0, Decimal("0.1"), 12),
        (-1, Decimal("0.1"), 12),
        (100, Decimal("0.1"), 0),
        (100, Decimal("0.1"), -3),
        (100, Decimal("-0.0001"), 12),
    ],
)
@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_invalid_terms_raise(
    principal: int, rate: Decimal, months: int, method: RepaymentMethod
) -> None:
    """A principal ≤ 0, a term ≤ 0 months or a negative rate raise InvalidValue."""
    with pytest.raises(InvalidValue):
        build_schedule(principal, rate, months, method, START)


def test_unknown_method_raises() -> None:
    """A method name outside the three known ones is refused."""
    with pytest.raises(ValueError, match="balloon"):
        build_schedule(100, Decimal("0.1"), 3, "balloon", START)


def test_equal_principal_remainder_sits_on_the_last_installment() -> None:
    """10,000 fen over 3 months: 3,333 + 3,333 and the remainder 3,334 on the last."""
    rows = build_schedule(10_000, Decimal("0.12"), 3, "equal_principal", START)
    assert [r.principal_due for r in rows] == [3_333, 3_333, 3_334]
    assert [r.interest_due for r in rows] == [100, 67, 33]  # 66.67 → 67, 33.34 → 33


def test_equal_principal_rounded_up_part_leaves_less_on_the_last() -> None:
    """When principal / months rounds up (20,000 / 3 = 6,666.67 → 6,667) the last part is
    the smaller remainder (6,666)."""
    rows = build_schedule(20_000, Decimal(0), 3, "equal_principal", START)
    assert [r.principal_due for r in rows] == [6_667, 6_667, 6_666]


def test_equal_installment_remainder_sits_on_the_last_installment() -> None:
    """等额本息: all but the last pay the level payment; the last clears the balance exactly."""
    rows = build_schedule(10_000_000, Decimal("0.12"), 12, "equal_installment", START)
    balances = remaining_balances(10_000_000, rows)
    assert balances[-1] == 0
    assert rows[-1].principal_due == balances[-2]
    assert rows[-1].interest_due == month_interest(balances[-2], Decimal("0.12"))
    assert rows[-1].amount_due == 879_688 + 8_797
    assert rows[-1].amount_due != 888_488  # the rounding remainder is visible here


def test_single_month_loan() -> None:
    """A one-month loan repays everything plus one month's interest at once."""
    for method in RepaymentMethod:
        rows = build_schedule(120_000, Decimal("0.12"), 1, method, START)
        assert rows == [Installment(1, START, 120_000, 1_200)]


@pytest.mark.parametrize(
    ("balance", "rate", "interest"),
    [
        (100, Decimal("0.06"), 1),  # 0.5 → 1
        (99, Decimal("0.06"), 0),  # 0.495 → 0
        (600, Decimal("0.01"), 1),  # 0.5 exactly, though 0.01 / 12 is not a finite decimal
        (1_800, Decimal("0.01"), 2),  # 1.5 → 2
        (599, Decimal("0.01"), 0),
        (0, Decimal("0.36"), 0),
        (100_000_000, Decimal("0.049"), 408_333),
    ],
)
def test_month_interest_exact_half_up(balance: int, rate: Decimal, interest: int) -> None:
    """month_interest is balance × rate / 12 rounded half up in exact arithmetic."""
    assert month_interest(balance, rate) == interest


@pytest.mark.parametrize(
    ("principal", "rate", "months", "exact_half"),
    [
        (600, Decimal("0.01"), 1, Fraction(1201, 2)),
        (1_440_600, Decimal("0.01"), 2, Fraction(1201**2, 2)),
    ],
)
def test_level_payment_rounds_an_exact_half_up(
    principal: int, rate: Decimal, months: int, exact_half: Fraction
) -> None:
    """When P·r·(1+r)^n / ((1+r)^n − 1) is exactly k + ½ fen, level_payment must be k + 1.

    1,440,600 fen at 1 % over 2 months: r = 1/1200, payment = 1201² / 2 = 721,200.5 fen,
    so the payment should be 721,201; the schedule's own first installment (interest 1,201
    + principal) then agrees with it.
    """
    r = Fraction(rate) / 12
    growth = (1 + r) ** months
    assert principal * r * growth / (growth - 1) == exact_half
    assert level_payment(principal, rate, months) == exact_half + Fraction(1, 2)
