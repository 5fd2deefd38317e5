"""The credential rules on their own: the back-off's schedule, scopes, minutes left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from doorstep.domain.credentials import (
    ACCOUNT_BACKOFF,
    ADDRESS_BACKOFF,
    PORTAL_CODES_PER_LOAN,
    Backoff,
    Scope,
    format_scopes,
    minutes_until,
    parse_scopes,
)
from doorstep.domain.errors import InvalidValue, LoginThrottled

MINUTE = timedelta(minutes=1)


def test_the_account_back_off_starts_at_a_minute_and_doubles_to_an_hour() -> None:
    locks = [ACCOUNT_BACKOFF.lock_after(n) for n in range(1, 14)]
    assert locks[:4] == [None] * 4
    assert locks[4:] == [MINUTE * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert ACCOUNT_BACKOFF.lock_after(10_000) == 60 * MINUTE  # no overflow, however many
    assert ACCOUNT_BACKOFF.steps()[-1] == (11, 60 * MINUTE)
    assert ADDRESS_BACKOFF.lock_after(19) is None and ADDRESS_BACKOFF.lock_after(20) == MINUTE
    assert PORTAL_CODES_PER_LOAN.steps() == [(3, 15 * MINUTE)]


def test_a_back_off_always_lapses() -> None:
    with pytest.raises(ValueError, match="remember"):
        Backoff(5, MINUTE, 60 * MINUTE, 30 * MINUTE)  # would forget while still locking
    with pytest.raises(ValueError, match="threshold"):
        Backoff(0, MINUTE, MINUTE, MINUTE)
    with pytest.raises(ValueError, match="first <= longest"):
        Backoff(5, 2 * MINUTE, MINUTE, MINUTE)


def test_scopes_are_named_and_known() -> None:
    assert parse_scopes(" Read, feedback ,") == {Scope.READ, Scope.FEEDBACK}
    assert format_scopes({Scope.WRITE, Scope.FEEDBACK, Scope.READ}) == "feedback,read,write"
    for bad in ("", "admin", "read,everything"):
        with pytest.raises(InvalidValue):
            parse_scopes(bad)


def test_a_refusal_says_the_minutes_left_rounded_up() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert minutes_until(now + timedelta(seconds=1), now) == 1
    assert minutes_until(now + timedelta(minutes=14, seconds=1), now) == 15
    assert minutes_until(now - MINUTE, now) == 1
    refusal = LoginThrottled(2)
    assert refusal.message == "too many attempts: try again in 2 minutes"
    assert refusal.message_zh == "尝试次数过多，请 2 分钟后再试"
    assert LoginThrottled(1).message.endswith("in 1 minute")
