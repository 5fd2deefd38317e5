"""Contact points: how much a phone or an address is trusted when it first arrives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    BUSY = "busy"
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


@dataclass(frozen=True, slots=True)
class AttemptRule:
    """What one performed attempt with a result does to its contact point.

    `verdict`: the status it sets (None keeps the status); `factor`: what it multiplies
    the confidence by when it sets no verdict; `evidence`: whether it is fresh evidence
    about the point, restarting the decay clock. Only a contact made or a definite "not
    here" is evidence; a call nobody answered says nothing new, so it never makes an old
    number look fresher. A blocked attempt was not performed: no rule applies at all.
    """

    verdict: ContactStatus | None
    factor: float
    evidence: bool


ATTEMPT_RULES: dict[AttemptResult, AttemptRule] = {
    AttemptResult.REACHED: AttemptRule(ContactStatus.CONFIRMED, 1.0, evidence=True),
    AttemptResult.CONFIRMED: AttemptRule(ContactStatus.CONFIRMED, 1.0, evidence=True),
    AttemptResult.WRONG_NUMBER: AttemptRule(ContactStatus.INVALID, 1.0, evidence=True),
    AttemptResult.MOVED: AttemptRule(ContactStatus.INVALID, 1.0, evidence=True),
    AttemptResult.NO_ANSWER: AttemptRule(None, NO_ANSWER_FACTOR, evidence=False),
    AttemptResult.BUSY: AttemptRule(None, 1.0, evidence=False),
}
"""The one table of how attempts move trust (see `after_attempt`, `trust_at`)."""
EVIDENCE_RESULTS = frozenset(r for r, rule in ATTEMPT_RULES.items() if rule.evidence)
NON_CONTACTS = frozenset({AttemptResult.NO_ANSWER, AttemptResult.BUSY})


def after_attempt(
    status: str, confidence: float, channel: AttemptChannel, result: AttemptResult
) -> tuple[ContactStatus, float]:
    """(status, confidence) of a contact point after one performed attempt (`ATTEMPT_RULES`).

    Confirmed or reached raise it to at least the channel's strength; a wrong number or a
    move makes it invalid; no answer lowers it a little, busy leaves it, neither changes
    its status.
    """
    rule = ATTEMPT_RULES[result]
    if rule.verdict is ContactStatus.CONFIRMED:
        return ContactStatus.CONFIRMED, max(confidence, CHANNEL_STRENGTH[channel])
    if rule.verdict is ContactStatus.INVALID:
        return ContactStatus.INVALID, INVALID_CONFIDENCE
    # never above where it was: rounding to 4 places must not lift it either
    return ContactStatus(status), min(confidence, round(max(confidence * rule.factor, 0.01), 4))


def effective_confidence(confidence: float, age_days: float) -> float:
    """Confidence decayed by the age of the last evidence (observation or attempt)."""
    return float(confidence * 0.5 ** (max(age_days - GRACE_DAYS, 0.0) / HALF_LIFE_DAYS))


def trust_at(status: str, confidence: float, evidence_at: datetime, now: datetime) -> float:
    """How far to trust a point at `now`: nothing when invalid, else its confidence decayed
    by the age of its last evidence (`evidence_at`: observed, or the last attempt that was
    evidence)."""
    if status == ContactStatus.INVALID:
        return 0.0
    return effective_confidence(confidence, (now - evidence_at).total_seconds() / 86400)


def last_evidence(observed_at: datetime, attempted_at: datetime | None) -> datetime:
    """When the point was last vouched for: observed, or an evidence attempt after that."""
    return max(observed_at, attempted_at or observed_at)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One source's word about a value (a phone or an address) of a customer: its status
    and confidence, and when it was last vouched for (`last_evidence`)."""

    source: str
    status: str
    confidence: float
    at: datetime


def after(
    evidence: Evidence,
    channel: AttemptChannel,
    result: AttemptResult,
    at: datetime,
    *,
    performed: bool,
) -> Evidence:
    """`evidence` after an attempt at `at`: a blocked one (not performed) changes nothing;
    a performed one moves status and confidence by `ATTEMPT_RULES`, and restarts the clock
    only when it is evidence."""
    if not performed:
        return evidence
    status, confidence = after_attempt(evidence.status, evidence.confidence, channel, result)
    clock = max(evidence.at, at) if ATTEMPT_RULES[result].evidence else evidence.at
    return Evidence(evidence.source, status.value, confidence, clock)


def value_trust(evidence: Sequence[Evidence], now: datetime) -> tuple[float, int]:
    """How far to trust one value at `now` from every source's evidence, and the index of
    the evidence that decides it. The newest verdict wins: a value found invalid is worth
    nothing until some source vouches for it after that; among the evidence newer than the
    last invalid verdict, the most trusted at `now` (so a confirmed visit beats an old
    application, and an old application cannot outweigh a fresh wrong-number)."""
    if not evidence:
        raise ValueError("a value needs at least one piece of evidence")
    dead = [(e.at, i) for i, e in enumerate(evidence) if e.status == ContactStatus.INVALID]
    killed_at = max(dead)[0] if dead else None
    live = [
        (trust_at(e.status, e.confidence, e.at, now), -i)
        for i, e in enumerate(evidence)
        if e.status != ContactStatus.INVALID and (killed_at is None or e.at > killed_at)
    ]
    if not live:
        return 0.0, max(dead)[1]
    trust, index = max(live)
    return trust, -index
