"""Rules for credentials, free of the web and the database: what an API token may do, how
long guessing is slowed down, and when a staff web session has ended."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from doorstep.domain.errors import InvalidValue


class Scope(StrEnum):
    """What an API token may be used for; a person's web session may do all three."""

    READ = "read"  # GET requests
    WRITE = "write"  # requests that change cases or plans (and reveals)
    FEEDBACK = "feedback"  # the lender's feedback feed


ALL_SCOPES = frozenset(Scope)


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes from "read,write" (or a list of names); at least one, each known."""
    names = text.split(",") if isinstance(text, str) else list(text)
    cleaned = {n.strip().lower() for n in names if n.strip()}
    unknown = sorted(cleaned - {s.value for s in Scope})
    if unknown or not cleaned:
        raise InvalidValue(
            f"scopes must be some of read, write, feedback: {','.join(unknown) or 'none given'}",
            message_zh=f"权限范围只能是 read、write、feedback：{','.join(unknown) or '未指定'}",
        )
    return frozenset(Scope(n) for n in cleaned)


def format_scopes(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))


@dataclass(frozen=True)
class Backoff:
    """Slows guessing on one key (an account, an address, a loan): the `threshold`-th
    counted attempt locks the key for `first`; once a lock lapses one more attempt is
    counted, and each further one doubles the lock, up to `longest`. A key with no counted
    attempt for `forget` starts again at zero, so a lock always lapses: nobody is locked
    out for good, only slowed down."""

    threshold: int
    first: timedelta
    longest: timedelta
    forget: timedelta

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.first <= timedelta(0) or self.longest < self.first:
            raise ValueError("a back-off needs threshold >= 1 and 0 < first <= longest")
        if self.forget < self.longest:
            raise ValueError("a back-off must remember attempts at least as long as it locks")

    def lock_after(self, attempts: int) -> timedelta | None:
        """How long the key is locked after its `attempts`-th counted attempt."""
        if attempts < self.threshold:
            return None
        lock = self.first
        for _ in range(attempts - self.threshold):
            if lock >= self.longest:
                break
            lock *= 2
        return min(lock, self.longest)

    def steps(self) -> list[tuple[int, timedelta]]:
        """(attempts, lock) from the threshold up to the first attempt locked the longest:
        every attempt after that is locked the longest too."""
        found: list[tuple[int, timedelta]] = []
        attempts = self.threshold
        while True:
            lock = self.lock_after(attempts)
            assert lock is not None
            found.append((attempts, lock))
            if lock >= self.longest:
                return found
            attempts += 1


def minutes_until(until: datetime, now: datetime) -> int:
    """Whole minutes (rounded up, at least 1) from `now` until `until`: what a refusal says."""
    return max(1, math.ceil((until - now).total_seconds() / 60))


# Staff sign-in: per account, and per client address (a spray over many accounts).
ACCOUNT_BACKOFF = Backoff(5, timedelta(minutes=1), timedelta(minutes=60), timedelta(hours=24))
ADDRESS_BACKOFF = Backoff(20, timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=1))
# The borrower portal: code requests per client address, codes sent per loan.
PORTAL_ASKS_PER_ADDRESS = Backoff(
    10, timedelta(minutes=15), timedelta(minutes=15), timedelta(minutes=15)
)
PORTAL_CODES_PER_LOAN = Backoff(
    3, timedelta(minutes=15), timedelta(minutes=15), timedelta(minutes=15)
)


@dataclass(frozen=True)
class SessionTimes:
    """A staff web session ends `idle` after its last request, and `lifetime` after it
    began whatever happens."""

    idle: timedelta
    lifetime: timedelta

    def over(self, started: datetime, last_seen: datetime, now: datetime) -> bool:
        return now >= started + self.lifetime or now >= last_seen + self.idle
