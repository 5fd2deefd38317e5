"""National ID (GB 11643-1999) check digit, birth date, gender, masks and phone shapes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doorstep.domain.identity import (
    LANDLINE,
    MOBILE,
    id_birth_date,
    id_check_digit,
    id_gender,
    id_number_problem,
    mask_id_number,
    mask_phone,
)


def iso7064_check(first17: str) -> str:
    """ISO 7064 MOD 11-2, written independently of the module: weights 2^(17−i) mod 11,
    check value (12 − Σ mod 11) mod 11, 10 written as X."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


# The two worked examples printed in GB 11643-1999, and IDs built here by hand.
KNOWN_VALID = [
    "11010519491231002X",  # the standard's example: check digit X
    "440524188001010014",  # the standard's example: born 1880-01-01
    "110105199003071239",  # 1990-03-07, sequence 123
    "310104200002290014",  # born on a leap day
    "51010819851015007X",  # built here: weighted sum ≡ 2 (mod 11) → X
]


@pytest.mark.parametrize("value", KNOWN_VALID)
def test_known_valid_ids(value: str) -> None:
    """Published and hand-built IDs pass, and their check digit matches ISO 7064 MOD 11-2."""
    assert id_check_digit(value[:17]) == value[17] == iso7064_check(value[:17])
    assert id_number_problem(value) is None


def test_x_check_digit_worked_by_hand() -> None:
    """11010519491231002: Σ digit × weight = 167, 167 mod 11 = 2, and 2 maps to X."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(d) * w for d, w in zip("11010519491231002", weights, strict=True)) == 167
    assert id_check_digit("11010519491231002") == "X"


def test_lower_case_x_is_accepted() -> None:
    """A trailing lower-case x is read as X."""
    assert id_number_problem("11010519491231002x") is None


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_matches_iso7064(first17: str) -> None:
    """For any 17 digits, id_check_digit is the ISO 7064 MOD 11-2 check character."""
    assert id_check_digit(first17) == iso7064_check(first17)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_any_other_check_digit_is_wrong(first17: str, check: str) -> None:
    """Every check character but the right one is reported as a wrong check digit."""
    problem = id_number_problem(first17 + check)
    if check == iso7064_check(first17):
        assert problem is None or "birth date" in problem
    else:
        assert problem is not None
        assert "check digit" in problem


@pytest.mark.parametrize(
    "value",
    ["110105199003071234", "440524188001010015", "110105194912310020", "11010519491231002Y"],
)
def test_wrong_check_digit(value: str) -> None:
    """A wrong final character (including a digit where X belongs) is refused."""
    assert id_number_problem(value) is not None


@pytest.mark.parametrize(
    "first17",
    [
        "11010519900230123",  # 30 February
        "11010520230229123",  # 29 February in a non-leap year
        "11010519901301123",  # month 13
        "11010519900000123",  # month 0, day 0
        "11010519900431123",  # 31 April
        "11010500000101123",  # year 0
    ],
)
def test_impossible_birth_date(first17: str) -> None:
    """A correct check digit on an impossible birth date is still refused, for the date."""
    value = first17 + iso7064_check(first17)
    assert id_number_problem(value) == "national ID holds an impossible birth date"
    assert id_birth_date(value) is None


@pytest.mark.parametrize(
    "value", ["", "1101051990030712", "1101051990030712345", "11010519900307123A", "X" * 18]
)
def test_wrong_shape(value: str) -> None:
    """Anything but 17 digits and a check character is refused on its shape."""
    assert id_number_problem(value) == "national ID must be 17 digits and a check digit (0-9 or X)"


def test_birth_date_and_gender() -> None:
    """Birth date comes from positions 7–14; the 17th digit is odd for men, even for women."""
    assert id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert id_gender("11010519491231002X") == "F"  # 17th digit 2
    assert id_birth_date("440524188001010014") == date(1880, 1, 1)
    assert id_gender("440524188001010014") == "M"  # 17th digit 1
    assert id_birth_date("310104200002290014") == date(2000, 2, 29)


def test_mask_id_number() -> None:
    """An 18-character ID keeps its 6-digit region and last 4; anything else is all stars."""
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("440524188001010014") == "440524********0014"
    assert mask_id_number("12345") == "*****"
    assert mask_id_number("") == ""
    masked = mask_id_number("110105199003071239")
    assert len(masked) == 18
    assert "19900307" not in masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("8613812345678", "861****5678"),
        ("1381234567", "**********"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    """A phone of 11+ characters keeps its first 3 and last 4; shorter ones are all stars."""
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("value", "mobile", "landline"),
    [
        ("13812345678", True, False),
        ("19912345678", True, False),
        ("12812345678", False, False),  # no 12x mobile prefix
        ("1381234567", False, False),
        ("010-12345678", False, True),
        ("0755-1234567", False, True),
        ("075512345678", False, True),
        ("10-12345678", False, False),
    ],
)
def test_phone_shapes(value: str, mobile: bool, landline: bool) -> None:
    """Mainland mobiles are 1[3-9] + 9 digits; landlines 0 + 2–3 digit area code + 7–8."""
    assert bool(MOBILE.match(value)) is mobile
    assert bool(LANDLINE.match(value)) is landline
