"""The verdict of a visit and the next step it leads to (核实结论与后续处置).

The next step comes from a rule table read top to bottom; the first row whose condition
holds decides, and its name is stored with the verdict (`next_step_rule`) so anyone can
see why. `N` is the limit of broken promises (setting, default 2).

| # | rule                  | when                                              | next step       |
|---|-----------------------|---------------------------------------------------|-----------------|
| 1 | vulnerable            | any vulnerability flag (illness, disability,      | specialist      |
|   |                       | elderly, bereavement): no more visits, case held  |                 |
| 2 | address_invalid       | the address is invalid or the borrower moved      | skip_trace      |
| 3 | not_reached_again     | not reached, and not reached on N earlier visits  | skip_trace      |
| 4 | not_reached           | not reached                                       | revisit         |
| 5 | plan_requested        | a plan was asked for and there is some ability    | plan_offer      |
| 6 | promise               | a promise was made, fewer than N broken before    | follow_promise  |
| 7 | evasion_with_ability  | evasion and some ability to pay                   | legal_review    |
| 8 | hardship_with_ability | hardship and some ability to pay                  | plan_offer      |
| 9 | promises_broken       | N or more broken promises, some ability           | plan_offer      |
|10 | hardship_no_ability   | hardship and no ability to pay                    | hardship_review |
|11 | default               | anything else (unclear, evasion without ability)  | review          |

After N broken promises no new promise is taken (`promise_allowed` is false): only a
plan or a review.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class NextStep(StrEnum):
    SPECIALIST = "specialist"
    SKIP_TRACE = "skip_trace"
    REVISIT = "revisit"
    PLAN_OFFER = "plan_offer"
    FOLLOW_PROMISE = "follow_promise"
    LEGAL_REVIEW = "legal_review"
    HARDSHIP_REVIEW = "hardship_review"
    REVIEW = "review"


class AddressStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    MOVED = "moved"


class Leaning(StrEnum):
    HARDSHIP = "hardship"
    EVASION = "evasion"
    UNCLEAR = "unclear"
    NOT_MET = "not_met"  # the borrower was not met: nobody else's word judges them


def leaning_of(reached: bool, called: Leaning) -> Leaning:
    """The verdict's leaning: the verifier's call on the borrower met, else not met
    (never hardship or evasion concluded from a relative, a colleague or an empty home)."""
    return called if reached else Leaning.NOT_MET


class Met(StrEnum):
    BORROWER = "borrower"
    FAMILY = "family"
    COLLEAGUE = "colleague"
    NOBODY = "nobody"


VULNERABILITIES = ("illness", "disability", "elderly", "bereavement")


@dataclass(frozen=True, slots=True)
class VerdictFacts:
    reached: bool
    address_status: AddressStatus
    leaning: Leaning
    ability_per_month: int | None  # fen
    vulnerable: bool = False
    promised: bool = False
    plan_requested: bool = False
    broken_promises: int = 0  # of this customer, before this visit
    unreached_before: int = 0  # earlier visits of this case that did not reach anyone


@dataclass(frozen=True, slots=True)
class Decision:
    next_step: NextStep
    rule: str
    promise_allowed: bool


Condition = Callable[[VerdictFacts, int], bool]


def _able(f: VerdictFacts) -> bool:
    return (f.ability_per_month or 0) > 0


RULES: tuple[tuple[str, Condition, NextStep], ...] = (
    ("vulnerable", lambda f, n: f.vulnerable, NextStep.SPECIALIST),
    (
        "address_invalid",
        lambda f, n: f.address_status is not AddressStatus.VALID,
        NextStep.SKIP_TRACE,
    ),
    (
        "not_reached_again",
        lambda f, n: not f.reached and f.unreached_before >= n,
        NextStep.SKIP_TRACE,
    ),
    ("not_reached", lambda f, n: not f.reached, NextStep.REVISIT),
    ("plan_requested", lambda f, n: f.plan_requested and _able(f), NextStep.PLAN_OFFER),
    ("promise", lambda f, n: f.promised and f.broken_promises < n, NextStep.FOLLOW_PROMISE),
    (
        "evasion_with_ability",
        lambda f, n: f.leaning is Leaning.EVASION and _able(f),
        NextStep.LEGAL_REVIEW,
    ),
    (
        "hardship_with_ability",
        lambda f, n: f.leaning is Leaning.HARDSHIP and _able(f),
        NextStep.PLAN_OFFER,
    ),
    ("promises_broken", lambda f, n: f.broken_promises >= n and _able(f), NextStep.PLAN_OFFER),
    ("hardship_no_ability", lambda f, n: f.leaning is Leaning.HARDSHIP, NextStep.HARDSHIP_REVIEW),
    ("default", lambda f, n: True, NextStep.REVIEW),
)
"""(rule name, condition(facts, max broken promises), next step): first match decides."""


def decide(facts: VerdictFacts, *, max_broken_promises: int = 2) -> Decision:
    """The next step of the first rule that holds (the last one always does)."""
    promise_allowed = facts.broken_promises < max_broken_promises and not facts.vulnerable
    for name, condition, step in RULES:
        if condition(facts, max_broken_promises):
            return Decision(step, name, promise_allowed)
    raise AssertionError("the default rule always holds")  # pragma: no cover


STOPS_VISITS = frozenset({NextStep.SPECIALIST})
"""Next steps after which nobody visits again (the case is put on hold)."""
