"""Money at the edge: yuan strings, rates, and half-up rounding to the fen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import (
    RATE_SCALE,
    format_yuan,
    parse_rate,
    parse_yuan,
    rate_to_units,
    round_fen,
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("0.00", 0),
        ("1", 100),
        ("1.5", 150),
        ("1.05", 105),
        ("1234.56", 123456),
        ("1,234.56", 123456),
        ("  42.10 ", 4210),
        ("-0.05", -5),
        ("-12.3", -1230),
        ("10000000.00", 1_000_000_000),
    ],
)
def test_parse_yuan_known_values(text: str, fen: int) -> None:
    """parse_yuan turns a yuan string (commas and surrounding blanks allowed) into exact fen."""
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (123456, "1234.56"), (-100, "-1.00")],
)
def test_format_yuan_known_values(fen: int, text: str) -> None:
    """format_yuan writes exactly two decimals and a leading minus only for negatives."""
    assert format_yuan(fen) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips(fen: int) -> None:
    """parse_yuan(format_yuan(x)) == x for every integer amount of fen, either sign."""
    assert parse_yuan(format_yuan(fen)) == fen


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2))
def test_parse_then_format_round_trips(amount: Decimal) -> None:
    """A two-decimal yuan string survives parse→format unchanged (in canonical form)."""
    text = f"{amount:.2f}"
    assert format_yuan(parse_yuan(text)) == text
    assert parse_yuan(text) == int(amount * 100)


@pytest.mark.parametrize(
    "text", ["1.234", "0.001", "-0.005", "12.", ".5", "", "abc", "1e3", "1.2.3", "--1", "+-1"]
)
def test_parse_yuan_rejects_malformed(text: str) -> None:
    """Three decimals (a lost fraction of a fen) and anything not a plain amount is refused."""
    with pytest.raises(InvalidValue):
        parse_yuan(text)


def test_parse_yuan_error_carries_chinese_message() -> None:
    """The error from a bad amount has a zh_CN message for the operator."""
    with pytest.raises(InvalidValue) as info:
        parse_yuan("1.999")
    assert "金额" in info.value.message_zh
    assert info.value.code == "invalid_value"


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        (Decimal("0.5"), 1),
        (Decimal("1.5"), 2),
        (Decimal("2.5"), 3),
        (Decimal("-0.5"), -1),
        (Decimal("-2.5"), -3),
        (Decimal("2.4999999"), 2),
        (Decimal("-2.4999999"), -2),
        (Decimal("2.5000001"), 3),
        (Decimal("7"), 7),
        (Decimal("0"), 0),
    ],
)
def test_round_fen_half_up_both_signs(amount: Decimal, fen: int) -> None:
    """round_fen rounds an exact half away from zero on both signs, otherwise to nearest."""
    assert round_fen(amount) == fen


@given(st.integers(-(10**12), 10**12))
def test_round_fen_is_symmetric(n: int) -> None:
    """round_fen(-x) == -round_fen(x) (half away from zero is symmetric) for halves n + 0.5."""
    half = Decimal(n) + Decimal("0.5")
    assert round_fen(-half) == -round_fen(half)
    assert round_fen(half) == (n + 1 if n >= 0 else n)


@pytest.mark.parametrize(
    ("text", "places", "upper", "expected"),
    [
        ("0.0490", 4, Decimal("0.36"), Decimal("0.049")),
        ("0", 4, Decimal("0.36"), Decimal("0")),
        ("0.3599", 4, Decimal("0.36"), Decimal("0.3599")),
        (" 0.12 ", 2, Decimal(1), Decimal("0.12")),
        ("0.00050000", 8, Decimal("0.01"), Decimal("0.0005")),
        ("0.00012345", 8, Decimal("0.01"), Decimal("0.00012345")),
    ],
)
def test_parse_rate_accepts(text: str, places: int, upper: Decimal, expected: Decimal) -> None:
    """A rate in [0, upper) with at most max_places significant decimals (trailing zeros
    do not count) is returned as the exact Decimal."""
    assert parse_rate(text, max_places=places, upper=upper) == expected


@pytest.mark.parametrize(
    ("text", "places", "upper"),
    [
        ("0.36", 4, Decimal("0.36")),  # upper bound is exclusive
        ("0.5", 4, Decimal("0.36")),
        ("-0.01", 4, Decimal("0.36")),
        ("0.04901", 4, Decimal("0.36")),  # five decimals
        ("0.000000001", 8, Decimal("0.01")),  # nine decimals
        ("NaN", 4, Decimal(1)),
        ("Infinity", 4, Decimal(1)),
        ("-Infinity", 4, Decimal(1)),
        ("abc", 4, Decimal(1)),
        ("", 4, Decimal(1)),
    ],
)
def test_parse_rate_rejects(text: str, places: int, upper: Decimal) -> None:
    """Out of range, too many decimals, non-finite and non-numeric rates raise InvalidValue."""
    with pytest.raises(InvalidValue):
        parse_rate(text, max_places=places, upper=upper)


@pytest.mark.parametrize(
    ("rate", "units"),
    [
        (Decimal("0.0005"), 50_000),
        (Decimal("0.00050000"), 50_000),
        (Decimal("0.00000001"), 1),
        (Decimal("0.00012345"), 12_345),
        (Decimal(0), 0),
        (Decimal(1), RATE_SCALE),
    ],
)
def test_rate_to_units(rate: Decimal, units: int) -> None:
    """rate_to_units gives the rate in whole 1e-8 units exactly."""
    assert rate_to_units(rate) == units


def test_rate_to_units_rejects_ninth_decimal() -> None:
    """A rate with a ninth significant decimal cannot be held exactly and is refused."""
    with pytest.raises(InvalidValue):
        rate_to_units(Decimal("0.000000005"))


@given(st.integers(0, 10**8))
def test_rate_to_units_round_trips(units: int) -> None:
    """Any 8-place rate maps to units with rate == units / 1e8 exactly."""
    rate = Decimal(units).scaleb(-8)
    assert rate_to_units(rate) == units
