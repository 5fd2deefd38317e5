"""Which overdue customers get a verification case, and in what order (分案策略).

The policy is a set of named rules with parameters; every decision lists the rules that
failed so an operator can see why a customer was or was not selected.

The priority, which ranks the selected customers under capacity, is the expected value of
a visit when the active ``visit_priority`` model scored the customer on the day:

    P(no self-cure) × overdue amount × uplift − visit cost      (fen, exact integers)

where P comes in basis points, the uplift (the share of the overdue amount a visit
recovers from someone who would not cure alone) in basis points, and the cost in fen. A
visit expected to cost more than it recovers fails the rule ``expected_value``. Without a
score the priority is the rule of thumb: overdue amount × bucket weight.

A holdout (``holdout_share``, default 5%) of the customers who would be made ready is kept
back and not visited: their case is cancelled with the reason ``holdout``. The effect of
visits is then measured, not assumed: the dashboard compares the cure rate of visited
customers with that of these similar customers who were not. The draw is a hash of the
customer id and the day, so it is the same on every rerun and needs no random state.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from doorstep.domain.money import Fen


@dataclass(frozen=True, slots=True)
class Candidate:
    customer_id: str
    max_dpd: int
    worst_bucket: str
    overdue_amount: Fen
    best_address_confidence: float  # after decay; 0 when the customer has no usable address
    best_address_region: str | None  # city of that address
    on_hold: bool = False
    last_visit_on: date | None = None
    has_open_case: bool = False
    p_no_cure_bp: int | None = None  # P(no self-cure within 30 days), basis points; None: unscored
    held_out_on: date | None = None  # the last day the customer was kept back as holdout


DEFAULT_BUCKET_WEIGHTS = {"M1": 1, "M2": 3, "M3": 4, "M4": 4, "M5": 3, "M6": 2, "M7+": 1}
"""M2–M4 are where a visit changes most: early enough to cure, late enough that calls failed."""


@dataclass(frozen=True, slots=True)
class SelectionPolicy:
    min_dpd: int = 31
    min_overdue: Fen = 50_000  # 500 yuan
    min_address_confidence: float = 0.5
    served_regions: frozenset[str] | None = None  # None: every region is served
    visit_gap_days: int = 14
    bucket_weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BUCKET_WEIGHTS))
    uplift_bp: int = 2_500  # a visit recovers 25% of the overdue amount of a non-curer
    visit_cost: Fen = 30_000  # 300 yuan
    holdout_share: Decimal = Decimal("0.05")  # of those made ready, kept back as holdout
    holdout_days: int = 30  # a holdout customer stays unvisited this long (the cure window)


def in_holdout(customer_id: str, as_of: date, share: Decimal) -> bool:
    """Whether the customer is kept back as holdout on `as_of`: the first 8 bytes of
    SHA-256 of ``"<customer id>|<day>"`` as a fraction below `share` (deterministic)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{customer_id}|{as_of.isoformat()}".encode()).digest()
    return Decimal(int.from_bytes(digest[:8], "big")) < share * (1 << 64)


def value_terms(uplift: Decimal, visit_cost_yuan: Decimal) -> tuple[int, Fen]:
    """(uplift in basis points, visit cost in fen) from settings, rounded half up."""
    bp = int((uplift * 10_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    fen = int((visit_cost_yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return bp, fen


def expected_value(p_no_cure_bp: int, overdue: Fen, uplift_bp: int, visit_cost: Fen) -> Fen:
    """P(no self-cure) × overdue × uplift − cost, in fen, rounded half up (exact)."""
    gain = p_no_cure_bp * overdue * uplift_bp
    return (gain + 50_000_000) // 100_000_000 - visit_cost


@dataclass(frozen=True, slots=True)
class Decision:
    customer_id: str
    selected: bool
    failed: tuple[str, ...]
    priority: int
    skip_trace: bool  # overdue enough for a visit but no address good enough


def decide(candidate: Candidate, policy: SelectionPolicy, as_of: date) -> Decision:
    failed = []
    if candidate.max_dpd < policy.min_dpd:
        failed.append("min_dpd")
    if candidate.overdue_amount < policy.min_overdue:
        failed.append("min_overdue")
    address_ok = candidate.best_address_confidence >= policy.min_address_confidence
    if not address_ok:
        failed.append("address_confidence")
    if (
        policy.served_regions is not None
        and candidate.best_address_region not in policy.served_regions
    ):
        failed.append("served_region")
    if candidate.on_hold:
        failed.append("on_hold")
    if candidate.last_visit_on and (as_of - candidate.last_visit_on).days < policy.visit_gap_days:
        failed.append("recent_visit")
    if candidate.has_open_case:
        failed.append("open_case")
    if candidate.held_out_on and (as_of - candidate.held_out_on).days < policy.holdout_days:
        failed.append("holdout")
    if candidate.p_no_cure_bp is None:
        priority = candidate.overdue_amount * policy.bucket_weights.get(candidate.worst_bucket, 1)
    else:
        priority = expected_value(
            candidate.p_no_cure_bp, candidate.overdue_amount, policy.uplift_bp, policy.visit_cost
        )
        if priority <= 0:
            failed.append("expected_value")
    money_and_time_ok = not ({"min_dpd", "min_overdue", "on_hold", "holdout"} & set(failed))
    return Decision(
        customer_id=candidate.customer_id,
        selected=not failed,
        failed=tuple(failed),
        priority=priority,
        skip_trace=money_and_time_ok and not address_ok,
    )


def rank(decisions: list[Decision], capacity: int) -> tuple[list[Decision], list[Decision]]:
    """(selected within capacity by priority, selected but over capacity)."""
    chosen = sorted(
        (d for d in decisions if d.selected), key=lambda d: (-d.priority, d.customer_id)
    )
    return chosen[:capacity], chosen[capacity:]


Capacity = int | Mapping[str, int]
"""Visits a day: one pool (an int, for tools without teams), or per city (the teams of
each region): a city's cases are made ready only against its own teams' capacity."""


def rank_by_city(
    choices: Sequence[tuple[Decision, str | None]], capacity: Capacity
) -> tuple[list[Decision], list[Decision], dict[str, int]]:
    """(selected within capacity, selected but over it, how many of those each city
    left unplaced), taking the selected by priority; per city, each city fills only its
    own capacity, and a city without any leaves all its cases unplaced."""
    ordered = sorted(
        ((d, city) for d, city in choices if d.selected),
        key=lambda pair: (-pair[0].priority, pair[0].customer_id),
    )
    left = Counter({"": capacity}) if isinstance(capacity, int) else Counter(capacity)
    chosen, spare, unplaced = [], [], Counter[str]()
    for decision, city in ordered:
        pool = "" if isinstance(capacity, int) else (city or "")
        if left[pool] > 0:
            left[pool] -= 1
            chosen.append(decision)
        else:
            spare.append(decision)
            unplaced[city or ""] += 1
    return chosen, spare, dict(unplaced)
