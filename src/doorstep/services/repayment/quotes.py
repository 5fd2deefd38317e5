"""The cost of arbitrary cash flows (amount, upfront fee, monthly payments): both rates of a
credit, or a settlement's discount, with the words the command line prints. Conventions
in `domain.rates` and docs/repayment.md."""

from __future__ import annotations

from collections.abc import Sequence

from doorstep.domain.money import Fen, format_yuan
from doorstep.domain.rates import Quote, parse_payments, quote

__all__ = ["Quote", "describe", "parse_payments", "quote_flows"]


def quote_flows(amount: Fen, fee: Fen, payments: Sequence[Fen]) -> Quote:
    """The quote of `amount` with `fee` paid upfront and `payments` a month apart."""
    return quote(amount, fee, payments)


def describe(found: Quote) -> list[str]:
    """The quote in lines of English: both rates, or the discount and no rate."""
    paid = f"{len(found.payments)} monthly payment(s), {format_yuan(sum(found.payments))} in all"
    head = f"Amount {format_yuan(found.amount)} yuan"
    if found.fee:
        head += (
            f", fee {format_yuan(found.fee)} paid upfront (on the day, or deducted): "
            f"{format_yuan(found.financed)} financed"
        )
    if found.rates is None:
        assert found.discount is not None
        return [
            head,
            paid,
            f"Settlement: {format_yuan(found.total_paid)} settles {format_yuan(found.amount)}, "
            f"a discount of {format_yuan(found.discount)} ({found.discount_share}% of the "
            "amount); a settlement is no credit, so it is shown as its discount only",
        ]
    return [
        head,
        f"{paid}; with the fee {format_yuan(found.total_paid)} paid: charges "
        f"{format_yuan(found.charges)}",
        f"Annualised rate (monthly IRR x 12, PBOC announcement [2021] No. 3): "
        f"{found.rates.annualised}%",
        f"Effective annual rate ((1 + monthly IRR)^12 - 1): {found.rates.effective}%",
    ]
