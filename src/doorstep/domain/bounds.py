"""What a value typed at the edge (a page, the API, a command, a lender's file) may be
before it reaches a rule or a query: whole numbers that fit the database's integers,
days inside the calendar the business works in, text without NUL. A value outside is an
`InvalidValue` that names its field, in zh_CN and en, never a driver's overflow.

The calendar's span: no loan, payment, visit or report lies before 1900 or after 2200,
and every date inside it survives a shift of a few days or a time zone (Python's `date`
ends at year 9999, the drivers' sooner).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from doorstep.domain.errors import InvalidValue

INT32 = 2**31 - 1
"""The largest INTEGER: ids, versions, counts, an OFFSET."""
INT64 = 2**63 - 1
"""The largest BIGINT: money in fen."""
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 12, 31)

_WHOLE = re.compile(r"^-?[0-9]{1,19}$")  # ASCII digits (str.isdigit takes "²", int() not)
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def _refuse(field: str, en: str, zh: str) -> InvalidValue:
    return InvalidValue(f"{field}: {en}", message_zh=f"{field}：{zh}")


def _shown(text: str) -> str:
    return repr(text[:24])


def whole(text: str, field: str, *, low: int = 0, high: int = INT32) -> int:
    """A whole number written in ASCII digits, from `low` to `high`."""
    cleaned = text.strip()
    if not _WHOLE.match(cleaned):
        raise _refuse(field, f"{_shown(text)} is not a whole number", f"{_shown(text)} 不是整数")
    return in_range(int(cleaned), field, low=low, high=high)


def in_range(value: int, field: str, *, low: int = 0, high: int = INT32) -> int:
    if not low <= value <= high:
        raise _refuse(field, f"must be between {low} and {high}", f"须在 {low} 至 {high} 之间")
    return value


def in_calendar(day: date, field: str) -> date:
    """The day, if the business's calendar holds it (1900-01-01 to 2200-12-31)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _refuse(
            field,
            f"{day.isoformat()} is outside {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}",
            f"{day.isoformat()} 超出 {FIRST_DAY.isoformat()} 至 {LAST_DAY.isoformat()} 的范围",
        )
    return day


def day(text: str, field: str) -> date:
    """A day written YYYY-MM-DD, inside the calendar."""
    cleaned = text.strip()
    try:
        parsed = date.fromisoformat(cleaned) if _DAY.match(cleaned) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _refuse(
            field,
            f"not a date (YYYY-MM-DD): {_shown(text)}",
            f"日期格式应为 YYYY-MM-DD：{_shown(text)}",
        )
    return in_calendar(parsed, field)


def month(text: str, field: str) -> date:
    """A month written YYYY-MM (its first day), inside the calendar."""
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise _refuse(
            field, f"not a month (YYYY-MM): {_shown(text)}", f"月份格式应为 YYYY-MM：{_shown(text)}"
        )
    year = int(found.group(1))
    if not FIRST_DAY.year <= year <= LAST_DAY.year:  # year 0 is no date at all
        span = f"{FIRST_DAY:%Y-%m} {{}} {LAST_DAY:%Y-%m}"
        raise _refuse(
            field,
            f"{_shown(text)} is outside " + span.format("to"),
            f"{_shown(text)} 超出 " + span.format("至") + " 的范围",
        )
    return date(year, int(found.group(2)), 1)


def moment(text: str, field: str) -> datetime:
    """A time in ISO 8601 with its offset, on a day inside the calendar."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _refuse(
            field, f"not an ISO 8601 time: {_shown(text)}", f"不是 ISO 8601 时间：{_shown(text)}"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _refuse(field, "a time needs its zone offset", "时间须带时区偏移")
    in_calendar(parsed.date(), field)
    return parsed


def no_nul(text: str, field: str) -> str:
    """The text, if it holds no NUL (U+0000): PostgreSQL's text cannot, so none may."""
    if "\x00" in text:
        raise _refuse(field, "text may not contain NUL (U+0000)", "文本不能包含 NUL 字符 (U+0000)")
    return text
