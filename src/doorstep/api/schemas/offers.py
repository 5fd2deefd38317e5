"""API shapes for offer quotes. Money comes and goes as yuan strings ("1234.56"), rates as
percent strings with two decimals ("12.80"), never floats."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from doorstep.domain.money import format_yuan
from doorstep.domain.rates import MAX_PAYMENTS, Quote

Yuan = Annotated[str, StringConstraints(max_length=20)]


class QuoteIn(BaseModel):
    amount: Yuan = Field(description='the amount lent (or owed), yuan, e.g. "100000.00"')
    fee: Yuan = Field("0", description="fees paid upfront or deducted from the amount, yuan")
    payments: list[Annotated[str, StringConstraints(max_length=30)]] = Field(
        min_length=1,
        max_length=MAX_PAYMENTS,
        description="monthly payments in yuan, the first a month after the start; an item "
        'may repeat one: "12x8833.30"',
    )


class QuoteOut(BaseModel):
    kind: Literal["credit", "settlement"] = Field(
        description="settlement: less is paid than the amount; it has a discount, no rate"
    )
    amount: str
    fee: str
    financed: str = Field(description="the amount less the fee: what the borrower has in hand")
    payments: int
    total_paid: str = Field(description="the fee and every payment")
    charges: str | None = Field(description="a credit's cost beyond the amount")
    annualised_rate: str | None = Field(
        description="percent: monthly IRR x 12 (PBOC announcement [2021] No. 3)"
    )
    effective_rate: str | None = Field(description="percent: (1 + monthly IRR)^12 - 1")
    discount: str | None = Field(description="a settlement's discount, yuan")
    discount_share: str | None = Field(description="the discount as percent of the amount")

    @classmethod
    def of(cls, found: Quote) -> QuoteOut:
        rates, discount = found.rates, found.discount
        return cls(
            kind="credit" if rates else "settlement",
            amount=format_yuan(found.amount),
            fee=format_yuan(found.fee),
            financed=format_yuan(found.financed),
            payments=len(found.payments),
            total_paid=format_yuan(found.total_paid),
            charges=format_yuan(found.charges) if rates else None,
            annualised_rate=str(rates.annualised) if rates else None,
            effective_rate=str(rates.effective) if rates else None,
            discount=None if discount is None else format_yuan(discount),
            discount_share=None if found.discount_share is None else str(found.discount_share),
        )
