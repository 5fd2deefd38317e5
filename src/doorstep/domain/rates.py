"""The cost of a credit as rates, from its cash flows (pure: stdlib only).

Convention (PBOC announcement [2021] No. 3, 年化利率 by the IRR method): the flows are
monthly, from the lender's side. At the start the lender pays out the **amount financed**,
what the borrower actually has the use of: the principal less every fee paid upfront or
deducted from it (a fee paid on the day is the same flow as a fee deducted). Each payment
follows a month after the one before, the first a month after the start. The monthly
internal rate of return r makes the flows' present value zero; then

- the **annualised rate** (年化利率, 单利: what lenders disclose and caps are tested on)
  is 12 × r;
- the **effective annual rate** (复利) is (1 + r)^12 − 1, never below the annualised one.

Both are percentages with two decimals, rounded half up. The announcement's own example:
100,000 yuan lent with a fee of 1,000 paid upfront (99,000 in hand) and 12 payments of
8,833.30 cost 12.80% annualised and 13.58% effective.

A **settlement** (paying back less than is owed) is no credit: it has no rate, only its
discount, an amount (and the share of what was owed that it forgives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen, parse_yuan
from doorstep.domain.schedule import MONTHS_PER_YEAR

MAX_PAYMENTS = 360
_TWO_PLACES = Decimal("0.01")


def _npv(flows: Sequence[int], rate: Decimal) -> Decimal:
    """Σ flow_t / (1+rate)^t by Horner's rule in x = 1/(1+rate)."""
    x = 1 / (1 + rate)
    total = Decimal(0)
    for flow in reversed(flows):
        total = total * x + flow
    return total


def monthly_irr(flows: Sequence[int]) -> Decimal:
    """The rate r with Σ flow_t/(1+r)^t = 0, for flows that start with the one outflow
    (negative) and continue with inflows (≥ 0): the NPV then falls as r rises, so
    bisection on (−1, ∞) finds the one root, in 40-digit Decimal arithmetic."""
    if len(flows) < 2 or flows[0] >= 0 or any(f < 0 for f in flows[1:]) or not any(flows[1:]):
        raise InvalidValue(
            "an IRR needs one outflow followed by inflows",
            message_zh="计算内部收益率需要先有一笔支出，随后是收入",
        )
    with localcontext() as ctx:
        ctx.prec = 40
        low, high = Decimal("-0.999999"), Decimal(1)
        while _npv(flows, high) > 0:  # widen until the NPV turns negative
            high *= 2
            if high > 10**6:
                raise InvalidValue("no IRR below 10^6 per month", message_zh="内部收益率过高")
        for _ in range(90):  # 2^-90 of the bracket: far below 0.0001 percentage point
            middle = (low + high) / 2
            if _npv(flows, middle) > 0:
                low = middle
            else:
                high = middle
        return +((low + high) / 2)


def _percent(fraction: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 120  # room for (1 + 10^6)^12 to two decimals
        return (fraction * 100).quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Rates:
    """A credit's rates: the monthly IRR (a fraction), and the annualised and effective
    annual rates in percent (Decimal('12.80') means 12.80%)."""

    monthly: Decimal
    annualised: Decimal
    effective: Decimal


def rates_of(flows: Sequence[int]) -> Rates:
    """Both annual rates of `flows` (−amount financed, then the payments)."""
    monthly = monthly_irr(flows)
    with localcontext() as ctx:
        ctx.prec = 40
        effective = (1 + monthly) ** MONTHS_PER_YEAR - 1
    return Rates(monthly, _percent(monthly * MONTHS_PER_YEAR), _percent(effective))


def annualised_rate(flows: Sequence[int]) -> Decimal:
    """Monthly IRR × 12 in percent, two decimals, half up (Decimal('10.90'))."""
    return rates_of(flows).annualised


def effective_rate(flows: Sequence[int]) -> Decimal:
    """(1 + monthly IRR)^12 − 1 in percent, two decimals, half up."""
    return rates_of(flows).effective


def discount_share(discount: Fen, owed: Fen) -> Decimal:
    """The share of `owed` a settlement forgives, in percent, two decimals, half up."""
    return _percent(Decimal(discount) / Decimal(owed))


@dataclass(frozen=True, slots=True)
class Quote:
    """The cost of arbitrary flows: `rates` for a credit, `discount` for a settlement
    (payments and fee below the amount), never both."""

    amount: Fen
    fee: Fen
    payments: tuple[Fen, ...]
    financed: Fen  # amount − fee: what the borrower has the use of
    total_paid: Fen  # fee + every payment
    rates: Rates | None
    discount: Fen | None

    @property
    def charges(self) -> Fen:
        """What the credit costs beyond the amount (0 for a settlement)."""
        return max(self.total_paid - self.amount, 0)

    @property
    def discount_share(self) -> Decimal | None:
        return None if self.discount is None else discount_share(self.discount, self.amount)


def quote(amount: Fen, fee: Fen, payments: Sequence[Fen]) -> Quote:
    """The rates of `amount` lent with `fee` paid upfront and `payments` made monthly, the
    first a month after the start; or, when everything paid is less than the amount, the
    settlement's discount."""

    def bad(field: str, en: str, zh: str) -> InvalidValue:
        return InvalidValue(f"{field}: {en}", message_zh=f"{field}：{zh}")

    if amount <= 0:
        raise bad("amount", "must be positive", "须大于零")
    if not 0 <= fee < amount:
        raise bad("fee", "must be 0 or more and below the amount", "须不小于零且小于金额")
    if not 1 <= len(payments) <= MAX_PAYMENTS:
        raise bad("payments", f"1 to {MAX_PAYMENTS} payments", f"须为 1 到 {MAX_PAYMENTS} 笔")
    if any(p < 0 for p in payments) or not any(payments):
        raise bad("payments", "amounts of 0 or more, not all 0", "金额不能为负，且不能全为零")
    total = fee + sum(payments)
    settled = total < amount
    return Quote(
        amount=amount,
        fee=fee,
        payments=tuple(payments),
        financed=amount - fee,
        total_paid=total,
        rates=None if settled else rates_of([-(amount - fee), *payments]),
        discount=amount - total if settled else None,
    )


def parse_payments(text: str) -> list[Fen]:
    """Payments written as yuan amounts separated by commas, each optionally repeated:
    "12x8833.30" is twelve payments of 8,833.30; "3x1000,1x5000.50" four payments."""
    payments: list[Fen] = []
    for item in text.replace("×", "x").split(","):
        count, times, amount = item.strip().rpartition("x")
        count = count.strip() if times else "1"
        try:
            fen = parse_yuan(amount)
        except InvalidValue:
            fen = -1
        if fen < 0 or not count.isdigit() or not 1 <= int(count) <= MAX_PAYMENTS - len(payments):
            raise InvalidValue(
                f"payments: not N x amount in yuan: {item.strip()!r}",
                message_zh=f"payments：格式应为 期数x金额（元）：{item.strip()!r}",
            )
        payments += [fen] * int(count)
    return payments
