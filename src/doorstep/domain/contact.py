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


class AttemptChannel(StrEnum):
    CALL = "call"
    SMS = "sms"
    THIRD_PARTY = "third_party"
    FIELD = "field"


class AttemptResult(StrEnum):
    REACHED = "reached"
    CONFIRMED = "confirmed"
    WRONG_NUMBER = "wrong_number"
    NO_ANSWER = "no_answer"
    MOVED = "moved"


# How strongly a positive result from a channel vouches for a contact point: someone who
# answered the phone or opened the door is stronger evidence than a data vendor's match.
CHANNEL_STRENGTH = {
    AttemptChannel.FIELD: 0.95,
    AttemptChannel.CALL: 0.9,
    AttemptChannel.SMS: 0.7,
    AttemptChannel.THIRD_PARTY: 0.6,
}
NO_ANSWER_FACTOR = 0.85
"""Each unanswered attempt costs 15%: one miss means little, a week of misses a lot."""
INVALID_CONFIDENCE = 0.05
GRACE_DAYS = 90
HALF_LIFE_DAYS = 365
"""Evidence keeps its value for a quarter, then halves every year: people move and change
numbers, but most do not within months."""


def after_attempt(
    status: str, confidence: float, channel: AttemptChannel, result: AttemptResult
) -> tuple[ContactStatus, float]:
    """(status, confidence) of a contact point after one confirmation attempt.

    Confirmed or reached raise it to at least the channel's strength; a wrong number or a
    move makes it invalid; no answer lowers it a little without changing its status.
    """
    if result in (AttemptResult.CONFIRMED, AttemptResult.REACHED):
        return ContactStatus.CONFIRMED, max(confidence, CHANNEL_STRENGTH[channel])
    if result in (AttemptResult.WRONG_NUMBER, AttemptResult.MOVED):
        return ContactStatus.INVALID, INVALID_CONFIDENCE
    return ContactStatus(status), round(max(confidence * NO_ANSWER_FACTOR, 0.01), 4)


def effective_confidence(confidence: float, age_days: float) -> float:
    """Confidence decayed by the age of the last evidence (observation or attempt)."""
    return float(confidence * 0.5 ** (max(age_days - GRACE_DAYS, 0.0) / HALF_LIFE_DAYS))
