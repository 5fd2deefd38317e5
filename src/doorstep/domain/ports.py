"""Interfaces the core needs from the outside world; integrations/ implements them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where services get the time: passed in by the entry point, so a test or a replay
    of a past day sets it instead of patching `datetime`."""

    def now(self) -> datetime:
        """A timezone-aware instant."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """Always the same instant (tests, and replays of a past business day)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


class Cipher(Protocol):
    """Reversible, authenticated encryption of personal data at rest."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def encrypt_bytes(self, plain: bytes) -> bytes: ...

    def decrypt_bytes(self, token: bytes) -> bytes: ...

    def rotate(self, token: str) -> str:
        """The same plain text encrypted under the current primary key."""
        ...


class KeyedHasher(Protocol):
    """A keyed one-way hash, so equal values can be found without decrypting anything."""

    def digest(self, plain: str) -> str: ...
