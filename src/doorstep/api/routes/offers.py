"""POST /api/offers/quote: both rates of any cash flows, or a settlement's discount."""

from __future__ import annotations

from fastapi import APIRouter

from doorstep.api.schemas.offers import QuoteIn, QuoteOut
from doorstep.domain.access import Permission
from doorstep.domain.errors import Forbidden
from doorstep.domain.money import parse_yuan
from doorstep.http.context import CurrentActor
from doorstep.services.repayment import quotes

router = APIRouter(prefix="/api/offers", tags=["offers"])


@router.post("/quote", response_model=QuoteOut)
def quote(body: QuoteIn, actor: CurrentActor) -> QuoteOut:
    """The annualised rate (monthly IRR x 12, as PBOC announcement [2021] No. 3 asks lenders
    to disclose) and the effective annual rate of `amount` with `fee` paid upfront and the
    monthly `payments`; when less is paid than the amount, a settlement: its discount, and
    no rate."""
    if not actor.can(Permission.MAKE_OFFERS):
        raise Forbidden("your role cannot make offers", message_zh="您的角色无权制定还款方案")
    found = quotes.quote_flows(
        parse_yuan(body.amount),
        parse_yuan(body.fee),
        quotes.parse_payments(",".join(body.payments)),
    )
    return QuoteOut.of(found)
