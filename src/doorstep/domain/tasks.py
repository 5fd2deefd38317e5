"""Work that follows a case (待办): each kind of task, how long it may take, and which
tasks a verdict's next step, a promise's judgement or a skip-trace opens.

| kind               | opened by                                   | due in (days) |
|--------------------|---------------------------------------------|---------------|
| offer_prepare      | next step plan_offer                        | 3             |
| legal_review       | next step legal_review                      | 5             |
| hardship_review    | next step hardship_review                   | 5             |
| specialist         | next step specialist (vulnerable borrower)  | 2             |
| verdict_review     | next step review                            | 3             |
| promise_follow_up  | a promise partly kept or broken             | 2             |
| trace_references   | skip-trace: ask the references the lender   | 5             |
|                    | holds for the borrower's new address        |               |
| trace_products     | skip-trace: the lender's other products     | 5             |
|                    | (addresses on other accounts)               |               |
| trace_registries   | skip-trace: public registries the lender    | 7             |
|                    | holds (household, company, court records)   |               |
| trace_portal       | skip-trace: ask the borrower to confirm an  | 7             |
|                    | address on the portal                       |               |

A task is open until someone records its result (done) or it is no longer needed
(cancelled); an open task past its due day is overdue and raises one alert.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from doorstep.domain.verdict import NextStep


class TaskKind(StrEnum):
    OFFER_PREPARE = "offer_prepare"
    LEGAL_REVIEW = "legal_review"
    HARDSHIP_REVIEW = "hardship_review"
    SPECIALIST = "specialist"
    VERDICT_REVIEW = "verdict_review"
    PROMISE_FOLLOW_UP = "promise_follow_up"
    TRACE_REFERENCES = "trace_references"
    TRACE_PRODUCTS = "trace_products"
    TRACE_REGISTRIES = "trace_registries"
    TRACE_PORTAL = "trace_portal"


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


DUE_DAYS: dict[TaskKind, int] = {
    TaskKind.OFFER_PREPARE: 3,
    TaskKind.LEGAL_REVIEW: 5,
    TaskKind.HARDSHIP_REVIEW: 5,
    TaskKind.SPECIALIST: 2,
    TaskKind.VERDICT_REVIEW: 3,
    TaskKind.PROMISE_FOLLOW_UP: 2,
    TaskKind.TRACE_REFERENCES: 5,
    TaskKind.TRACE_PRODUCTS: 5,
    TaskKind.TRACE_REGISTRIES: 7,
    TaskKind.TRACE_PORTAL: 7,
}

SKIP_TRACE = (
    TaskKind.TRACE_REFERENCES,
    TaskKind.TRACE_PRODUCTS,
    TaskKind.TRACE_REGISTRIES,
    TaskKind.TRACE_PORTAL,
)
"""The sources a skip-trace tries, one task each."""

TRACE_SOURCE: dict[TaskKind, str] = {
    TaskKind.TRACE_REFERENCES: "third_party",
    TaskKind.TRACE_PRODUCTS: "core_banking",
    TaskKind.TRACE_REGISTRIES: "third_party",
    TaskKind.TRACE_PORTAL: "application",
}
"""How far a contact point found by each skip-trace source is trusted at first
(`domain.contact.SOURCE_CONFIDENCE`): below the selection's threshold until confirmed,
except the lender's own records of another product."""

FOR_STEP: dict[NextStep, tuple[TaskKind, ...]] = {
    NextStep.PLAN_OFFER: (TaskKind.OFFER_PREPARE,),
    NextStep.LEGAL_REVIEW: (TaskKind.LEGAL_REVIEW,),
    NextStep.HARDSHIP_REVIEW: (TaskKind.HARDSHIP_REVIEW,),
    NextStep.SPECIALIST: (TaskKind.SPECIALIST,),
    NextStep.REVIEW: (TaskKind.VERDICT_REVIEW,),
    NextStep.SKIP_TRACE: SKIP_TRACE,
}
"""The tasks a verdict's next step opens; a revisit goes back to planning and a promise
is followed by the promise judgement, so they open none."""


def due_on(kind: TaskKind, opened_on: date) -> date:
    return opened_on + timedelta(days=DUE_DAYS[kind])


def overdue(state: str, due: date, today: date) -> bool:
    """An open task whose due day has passed."""
    return state == TaskState.OPEN and today > due


def days_waiting(since: date, today: date) -> int:
    """Whole days something has waited (0 on the day itself)."""
    return max((today - since).days, 0)
