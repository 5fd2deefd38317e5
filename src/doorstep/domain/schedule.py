"""Repayment schedules for the three methods a consumer loan uses in China.

Convention (documented because calculators differ): interest for each month is the
remaining principal times annual_rate / 12, rounded half up to the fen every month; the
regular principal part is rounded the same way; the last installment takes whatever
principal remains, so the principal parts always sum to the principal exactly. For
1,000,000 yuan over 30 years at 4.9% this gives 5,307.27 a month and 910,615.12 total
interest (calculators that round only the total show 910,616.19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache

from doorstep.domain.calendar import add_months
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen

MONTHS_PER_YEAR = 12


class RepaymentMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_FIRST = "interest_first"  # 先息后本


@dataclass(frozen=True, slots=True)
class Installment:
    seq: int
    due_on: date
    principal_due: Fen
    interest_due: Fen
    fee_due: Fen = 0

    @property
    def amount_due(self) -> Fen:
        return self.principal_due + self.interest_due + self.fee_due


def monthly_rate(annual_rate: Decimal) -> Decimal:
    return annual_rate / MONTHS_PER_YEAR


def month_interest(balance: Fen, annual_rate: Decimal) -> Fen:
    """balance × annual_rate / 12 rounded half up, in exact integer arithmetic.

    Decimal's annual_rate / 12 is already rounded to 28 digits, which can tip an exact
    half fen the wrong way; the integer ratio cannot.
    """
    numerator, denominator = annual_rate.as_integer_ratio()
    scale = MONTHS_PER_YEAR * denominator
    return (2 * balance * numerator + scale) // (2 * scale)


def level_payment(principal: Fen, annual_rate: Decimal, months: int) -> Fen:
    """The 等额本息 monthly payment in fen: P·r·(1+r)^n / ((1+r)^n − 1), rounded half up.

    Computed in exact fractions: any rounding before the last step can turn an exact half
    fen into 0.4999… and round it the wrong way.
    """
    exact = principal * annuity_factor(annual_rate, months)
    return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


@cache
def annuity_factor(annual_rate: Decimal, months: int) -> Fraction:
    """r·(1+r)^n / ((1+r)^n − 1) exactly (1/n at a zero rate): the payment per fen of
    principal. A book has few distinct (rate, term) pairs and the power is the costly
    part, so each pair is computed once."""
    rate = Fraction(annual_rate) / MONTHS_PER_YEAR
    if rate == 0:
        return Fraction(1, months)
    grown = (1 + rate) ** months
    return rate * grown / (grown - 1)


def build_schedule(
    principal: Fen,
    annual_rate: Decimal,
    months: int,
    method: RepaymentMethod | str,
    first_due_on: date,
) -> list[Installment]:
    """The installments of a loan, due monthly from `first_due_on`."""
    return [
        Installment(seq, add_months(first_due_on, seq - 1), part, interest)
        for seq, (part, interest) in enumerate(
            schedule_amounts(principal, annual_rate, months, method), start=1
        )
    ]


def schedule_amounts(
    principal: Fen, annual_rate: Decimal, months: int, method: RepaymentMethod | str
) -> list[tuple[Fen, Fen]]:
    """(principal part, interest) of each month of a loan's schedule: they depend on the
    terms only, not on the dates, so a book computes them once per distinct terms."""
    method = RepaymentMethod(method)
    if principal <= 0:
        raise InvalidValue("principal must be positive", message_zh="本金必须大于零")
    if months <= 0:
        raise InvalidValue("term must be at least one month", message_zh="期限至少一个月")
    if annual_rate < 0:
        raise InvalidValue("annual rate must not be negative", message_zh="年利率不能为负")

    payment = level_payment(principal, annual_rate, months)
    regular_principal = (2 * principal + months) // (2 * months)  # P / n, half up
    # month_interest's exact ratio, taken once for the whole schedule
    numerator, denominator = annual_rate.as_integer_ratio()
    scale = MONTHS_PER_YEAR * denominator
    balance = principal
    rows: list[tuple[Fen, Fen]] = []
    for seq in range(1, months + 1):
        interest = (2 * balance * numerator + scale) // (2 * scale)
        if seq == months:
            part = balance
        elif method is RepaymentMethod.EQUAL_INSTALLMENT:
            part = min(max(payment - interest, 0), balance)
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            part = min(regular_principal, balance)
        else:  # interest first: principal all at the end
            part = 0
        rows.append((part, interest))
        balance -= part
    return rows


def remaining_balances(principal: Fen, rows: list[Installment]) -> list[Fen]:
    """Principal still owed after each installment."""
    balances, balance = [], principal
    for row in rows:
        balance -= row.principal_due
        balances.append(balance)
    return balances
