"""Money is integer fen; rates are Decimal; rounding to fen is ROUND_HALF_UP.

The only places a yuan string is read or written are `parse_yuan` and `format_yuan`
(the CSV and API edge). Everything in between adds and compares integers.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from doorstep.domain.bounds import INT64
from doorstep.domain.errors import InvalidValue

Fen = int
FEN_PER_YUAN = 100

# ASCII digits only (\d would accept full-width and other scripts' digits); commas only as
# thousands separators.
_YUAN = re.compile(r"^-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]{1,2})?$")


def parse_yuan(text: str, field: str | None = None) -> Fen:
    """'1234.56' -> 123456. At most two decimals: a third would be a lost fraction of a fen.
    No amount beyond what a BIGINT of fen holds (about 92 thousand trillion yuan). A refusal
    names `field` when given."""
    cleaned = text.strip()
    en, zh = (f"{field}: ", f"{field}：") if field else ("", "")
    if not _YUAN.match(cleaned):
        raise InvalidValue(
            f"{en}not an amount in yuan with at most 2 decimals: {text[:40]!r}",
            message_zh=f"{zh}金额格式错误（最多两位小数）：{text[:40]!r}",
        )
    fen = int(Decimal(cleaned.replace(",", "")) * FEN_PER_YUAN) if len(cleaned) <= 40 else INT64 + 1
    if abs(fen) > INT64:
        raise InvalidValue(
            f"{en}amount out of range: {text[:40]!r}", message_zh=f"{zh}金额超出范围：{text[:40]!r}"
        )
    return fen


def format_yuan(fen: Fen) -> str:
    """123456 -> '1234.56'; -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"


def round_fen(amount: Decimal) -> Fen:
    """A Decimal amount of fen rounded half up (away from zero) to a whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_rate(text: str, *, max_places: int, upper: Decimal) -> Decimal:
    """A rate as a fraction ('0.0490'), 0 <= rate < upper, with at most `max_places` decimals."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidValue(f"not a number: {text!r}", message_zh=f"不是数字：{text!r}") from None
    if not rate.is_finite() or rate < 0 or rate >= upper:
        raise InvalidValue(
            f"rate {text!r} outside [0, {upper})", message_zh=f"利率 {text!r} 超出范围 [0, {upper})"
        )
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise InvalidValue(
            f"rate {text!r} has more than {max_places} decimals",
            message_zh=f"利率 {text!r} 小数位超过 {max_places} 位",
        )
    return rate


RATE_SCALE = 10**8
"""Daily penalty rates are held as integers of 1e-8 so penalty sums stay exact integers."""


def rate_to_units(rate: Decimal) -> int:
    """Decimal('0.0005') -> 50000 units of 1e-8; the rate must have at most 8 decimals."""
    scaled = rate * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise InvalidValue(f"rate {rate} has more than 8 decimals")
    return int(scaled)
