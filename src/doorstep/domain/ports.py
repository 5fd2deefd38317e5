"""Interfaces the core needs from the outside world; integrations/ implements them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class Cipher(Protocol):
    """Reversible encryption of personal data at rest."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def rotate(self, token: str) -> str:
        """The same plain text encrypted under the current primary key."""
        ...


class KeyedHasher(Protocol):
    """A keyed one-way hash, so equal values can be found without decrypting anything."""

    def digest(self, plain: str) -> str: ...
