"""Contact points: how much a phone or an address is trusted when it first arrives."""

from __future__ import annotations

from enum import StrEnum


class ContactStatus(StrEnum):
    UNVERIFIED = "unverified"
    CONFIRMED = "confirmed"
    INVALID = "invalid"


# Why these numbers: a number or address seen by our own staff (call, field) has been
# used successfully; core banking data is maintained by the lender; the application
# form is the borrower's own word at the time; third-party data is often stale.
SOURCE_CONFIDENCE = {
    "field": 0.85,
    "call": 0.8,
    "core_banking": 0.7,
    "application": 0.6,
    "third_party": 0.45,
}
SOURCES = tuple(SOURCE_CONFIDENCE)


def initial_confidence(source: str, status: str) -> float:
    """Confidence in [0, 1] for a new contact point from `source` with `status`."""
    if status == ContactStatus.INVALID:
        return 0.05
    base = SOURCE_CONFIDENCE[source]
    return max(base, 0.9) if status == ContactStatus.CONFIRMED else base
