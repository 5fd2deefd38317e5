"""Checks on identity data: the national ID (GB 11643-1999) and mainland phone numbers."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id_number_problem(value: str) -> str | None:
    """Why an 18-character national ID is invalid, or None when it is valid."""
    value = value.upper()
    if not _ID_SHAPE.match(value):
        return "national ID must be 17 digits and a check digit (0-9 or X)"
    if id_check_digit(value[:17]) != value[17]:
        return "national ID check digit is wrong (GB 11643)"
    if id_birth_date(value) is None:
        return "national ID holds an impossible birth date"
    return None


def id_birth_date(value: str) -> date | None:
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_gender(value: str) -> str:
    """'M' when the 17th digit is odd, else 'F'."""
    return "M" if int(value[16]) % 2 else "F"


def mask_id_number(value: str) -> str:
    """110105********1234: region kept, birth date and sequence hidden."""
    return value[:6] + "*" * 8 + value[-4:] if len(value) == 18 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)
