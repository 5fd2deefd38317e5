"""Privacy requests (PIPL Arts 44–50): who asks, what for, the states a request goes
through, its deadline, and the legal holds that refuse or defer a deletion.

Pure rules; the workflow with its rows and audit events is
`services.conduct.privacy_requests`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from doorstep.domain.errors import IllegalTransition, InvalidValue


class Subject(StrEnum):
    """Whose data: the borrower, or a third party whose phone we hold (a relative, an
    emergency contact). Both are data subjects (PIPL Arts 44–47)."""

    BORROWER = "borrower"
    THIRD_PARTY = "third_party"


class RequestKind(StrEnum):
    ACCESS = "access"  # Art. 45: see and copy
    CORRECT = "correct"  # Art. 46
    DELETE = "delete"  # Art. 47
    WITHDRAW_CONSENT = "withdraw_consent"  # Art. 15


class ReceivedVia(StrEnum):
    PORTAL = "portal"
    PHONE = "phone"
    LETTER = "letter"
    IN_PERSON = "in_person"
    EMAIL = "email"


class Identified(StrEnum):
    """How the person was identified before anything of theirs is shown or changed."""

    PORTAL_SIGN_IN = "portal_sign_in"  # one-time code to the loan's mobile
    CALLBACK = "callback"  # we called the number we hold back and they answered
    ID_DOCUMENT = "id_document"  # identity document seen (in person or a copy)
    WRITTEN = "written"  # a signed letter matching what we hold


class State(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REFUSED = "refused"
    DEFERRED = "deferred"  # a legal hold with a known end: acted on when it lapses


OPEN = frozenset({State.RECEIVED, State.VERIFIED, State.IN_PROGRESS})
"""States that run against the deadline."""

STEPS: dict[str, tuple[frozenset[State], State]] = {
    "verify": (frozenset({State.RECEIVED}), State.VERIFIED),
    "start": (frozenset({State.VERIFIED}), State.IN_PROGRESS),
    "complete": (frozenset({State.VERIFIED, State.IN_PROGRESS}), State.DONE),
    "refuse": (frozenset(OPEN), State.REFUSED),
    "defer": (frozenset({State.VERIFIED, State.IN_PROGRESS}), State.DEFERRED),
    "resume": (frozenset({State.DEFERRED}), State.IN_PROGRESS),
}
"""action -> (states it may start from, state it leads to). Nothing is done for a person
before they are verified; a refusal may come at any open step (Art. 50: with reasons)."""


def step(state: str, action: str) -> State:
    """The state after `action`, or `IllegalTransition`."""
    if action not in STEPS:
        raise InvalidValue(f"unknown action {action!r}", message_zh=f"未知的操作 {action!r}")
    sources, target = STEPS[action]
    if State(state) not in sources:
        raise IllegalTransition(
            f"a {state} request cannot {action}", message_zh=f"处于 {state} 状态的申请不能 {action}"
        )
    return target


def due_on(received_on: date, days: int) -> date:
    """The answer's deadline: `days` calendar days after the day it was received."""
    return received_on + timedelta(days=days)


def overdue(state: str, due: date, today: date) -> bool:
    """Still open after its deadline (a deferred request is overdue once its hold lapsed)."""
    return State(state) in OPEN and today > due


class HoldKind(StrEnum):
    LOAN_OPEN = "loan_open"
    LITIGATION = "litigation"
    RETENTION_DUTY = "retention_duty"


@dataclass(frozen=True, slots=True)
class LegalHold:
    """Why a deletion cannot happen now, and the day the reason lapses (None: not known,
    e.g. until the loan is repaid or the dispute ends)."""

    kind: HoldKind
    why: str
    lapses_on: date | None

    def to_json(self) -> dict[str, str | None]:
        lapses = self.lapses_on.isoformat() if self.lapses_on else None
        return {"kind": self.kind.value, "why": self.why, "lapses_on": lapses}


@dataclass(frozen=True, slots=True)
class DeletionFacts:
    """What the holds depend on, computed from the database by the caller."""

    subject: Subject
    open_loans: tuple[str, ...] = ()  # the borrower's loans not repaid, or with an open case
    disputes: tuple[tuple[str, date | None], ...] = ()  # (why, ends on) of legal matters
    records_until: date | None = None  # end of the collection records' retention duty


def deletion_holds(facts: DeletionFacts, today: date) -> list[LegalHold]:
    """The legal holds on deleting a person's data (PIPL Art. 47, paragraph 2: while a
    retention period set by law runs, the data is stored and protected but not otherwise
    processed).

    - The borrower's own data while a loan is open: the contract is the legal basis
      (Art. 13(2)).
    - Anyone's data while a legal matter (dispute, legal review) is open: it is evidence.
    - The borrower's collection records until the retention duty ends (CN-RETENTION: at
      least 5 years from the last collection activity).

    A third party is not a party to the loan: neither the open loan nor the collection
    records keep their number (the contact log keeps its rows without it)."""
    holds = [LegalHold(HoldKind.LITIGATION, why, ends) for why, ends in facts.disputes]
    if facts.subject is Subject.THIRD_PARTY:
        return holds
    if facts.open_loans:
        why = "loan(s) not repaid: " + ", ".join(facts.open_loans)
        holds.insert(0, LegalHold(HoldKind.LOAN_OPEN, why, None))
    if facts.records_until is not None and facts.records_until > today:
        why = "collection records are kept until their retention period ends"
        holds.append(LegalHold(HoldKind.RETENTION_DUTY, why, facts.records_until))
    return holds


def held_until(holds: list[LegalHold]) -> date | None:
    """The day every hold has lapsed, or None when one has no known end."""
    if not holds or any(h.lapses_on is None for h in holds):
        return None
    return max(h.lapses_on for h in holds if h.lapses_on is not None)
