"""The demo's loans and the stories behind their payments: terms, rates, who pays on
time, who cures, who stops, and the payment history each story leaves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from doorstep.demo.places import MAX_AGE_DAYS
from doorstep.demo.randomness import Choice, Rng
from doorstep.domain.calendar import add_months
from doorstep.domain.money import RATE_SCALE, Fen
from doorstep.domain.schedule import Installment

TERMS = Choice((6, 12, 24, 36), (0.15, 0.40, 0.25, 0.20))
RATES = ("0.0720", "0.0899", "0.1080", "0.1200", "0.1440", "0.1620", "0.1800", "0.2160", "0.2400")
# Customers who later get into trouble were priced as riskier: their rates skew higher.
RATE_GOOD = Choice(RATES, (8, 10, 13, 15, 16, 13, 11, 8, 6))
RATE_RISKY = Choice(RATES, (3, 4, 6, 9, 13, 15, 17, 17, 16))
METHODS = Choice(("equal_installment", "equal_principal", "interest_first"), (80, 12, 8))
PRODUCTS = Choice(("consumer_cash", "consumer_installment"), (60, 40))
CHANNELS = Choice(
    ("auto_debit", "alipay", "wechat", "bank_transfer", "counter"), (45, 20, 15, 15, 5)
)
MANUAL = Choice(("alipay", "wechat", "bank_transfer", "counter"), (35, 30, 25, 10))
LOANS_PER_CUSTOMER = Choice((1, 2, 3), (80, 16, 4))  # mean about 1.25
MOVE_SOURCES = Choice(("core_banking", "call", "field"), (50, 30, 20))  # who learnt of a move
PREPAY_SHARE = 0.12  # performing loans paid off early in one transfer
LATE_SHARE = 0.04  # on-time payers still pay a day or three late now and then


@dataclass(frozen=True, slots=True)
class Story:
    """What happens to a customer: the hidden truth behind their payment history."""

    behaviour: str
    share: float  # of customers
    causes: tuple[str, ...]
    history: int  # installments paid normally before the trouble starts, at least

    @property
    def overdue(self) -> bool:
        return self.behaviour not in ("on_time", "cured")


# Shares are tuned so that about 10% of loans are overdue on the book date.
STORIES = (
    Story("sudden_stop", 0.038, ("job_loss", "medical", "business_failure", "family_event"), 3),
    Story("slow_decline", 0.022, ("income_drop", "poor_money_management"), 5),
    Story("never_paid", 0.014, ("fraud_or_identity_theft", "willful_evasion"), 0),
    Story("intermittent", 0.017, ("poor_money_management",), 6),
    Story("dispute", 0.012, ("dispute", "product_misunderstood"), 1),
    Story("cured", 0.030, ("job_loss", "medical", "income_drop", "family_event"), 2),
    Story("on_time", 0.867, (), 0),
)
STORY = Choice(STORIES, [s.share for s in STORIES])
# Days past due when a story's trouble began: most trouble is recent, some is old and
# never resolved (M1 1-30, M2 31-60, ..., M7+ over 180).
DPD_BUCKETS = Choice(
    ((1, 30), (31, 60), (61, 90), (91, 120), (121, 150), (151, 180), (181, 720)),
    (32, 18, 12, 9, 7, 6, 16),
)


@dataclass(frozen=True, slots=True)
class LoanPlan:
    disbursed_on: date
    term: int
    behaviour: str
    trouble_at: int = 0  # index of the first installment the story disturbs
    missed: int = 0  # cured: installments missed before catching up


def performing_plan(as_of: date, rng: Rng) -> LoanPlan:
    disbursed = as_of - timedelta(days=rng.integers(1, MAX_AGE_DAYS + 1))
    return LoanPlan(disbursed, TERMS.draw(rng), "on_time")


def anchored_plan(
    anchor: date, history: int, after: int, behaviour: str, as_of: date, rng: Rng, missed: int = 0
) -> LoanPlan:
    """A loan with an installment due on `anchor` (about), at least `history` installments
    before it and `after` from it on, disbursed within MAX_AGE_DAYS of the book date."""
    terms = [t for t in TERMS.options if t >= history + after]
    term = terms[rng.integers(len(terms))]
    room = int((MAX_AGE_DAYS - (as_of - anchor).days) / 30.44) - 1
    latest = max(history, min(term - after, room))
    index = rng.integers(history, latest + 1)
    return LoanPlan(add_months(anchor, -(index + 1)), term, behaviour, index, missed)


def plan_loans(story: Story, count: int, as_of: date, rng: Rng) -> list[LoanPlan]:
    """Every loan of one customer. A customer's trouble hits all their loans at once (the
    first due date they miss is shared), except a dispute, which is about one loan."""
    if story.behaviour == "on_time":
        return [performing_plan(as_of, rng) for _ in range(count)]
    if story.behaviour == "cured":
        missed = rng.integers(1, 4)
        began = as_of - timedelta(days=rng.integers(missed * 31 + 45, 600))
        return [
            anchored_plan(began, story.history, missed + 1, "cured", as_of, rng, missed)
            for _ in range(count)
        ]
    low, high = DPD_BUCKETS.draw(rng)
    stop = as_of - timedelta(days=low + rng.integers(high - low + 1))
    if story.behaviour == "never_paid":  # loans taken together, first installment never paid
        return [
            LoanPlan(add_months(stop, -1) - timedelta(days=rng.integers(4)),
                     TERMS.draw(rng), "never_paid")
            for _ in range(count)
        ]  # fmt: skip
    if story.behaviour == "dispute":  # one loan disputed, the others paid on time
        return [
            anchored_plan(stop, story.history, 1, "dispute", as_of, rng),
            *(anchored_plan(stop, 1, 2, "on_time", as_of, rng) for _ in range(max(count, 2) - 1)),
        ]
    return [
        anchored_plan(stop, story.history, 1, story.behaviour, as_of, rng) for _ in range(count)
    ]


def penalty_rate(annual_rate: str, rng: Rng) -> str:
    """Mostly the common 0.05% a day; some lenders charge 1.5x the contract rate."""
    if rng.random() < 0.8:
        return "0.0005"
    return f"{(Decimal(annual_rate) * Decimal('1.5') / 360).quantize(Decimal('1e-8')):f}"


def principal_fen(rng: Rng) -> Fen:
    """Lognormal around 20,000 yuan, in steps of 500 yuan, 3,000 to 200,000."""
    steps = round(math.exp(rng.normal(math.log(20_000), 0.8)) / 500)
    return min(max(steps, 6), 400) * 500 * 100


# --- payments ----------------------------------------------------------------------------


class Payer:
    """Writes one loan's payments: full, late with penalty, partial, or none."""

    def __init__(
        self, disbursed_on: date, as_of: date, penalty_units: int, channel: str, rng: Rng
    ) -> None:
        self.disbursed_on, self.as_of = disbursed_on, as_of
        self.penalty_units, self.channel, self.rng = penalty_units, channel, rng
        self.payments: list[tuple[date, Fen, str]] = []

    def penalty(self, day: date, rows: Sequence[Installment]) -> Fen:
        """At least the penalty these unpaid rows have accrued by `day`, so that a late
        payment settles them (the waterfall takes penalty before principal)."""
        total = 0
        for row in rows:
            days = (day - row.due_on).days
            if days > 0:
                total += -(-row.principal_due * days * self.penalty_units // RATE_SCALE)
        return total

    def pay(self, day: date, amount: Fen, late: bool) -> None:
        day = min(max(day, self.disbursed_on), self.as_of)
        # A late payment means the auto-debit failed: the borrower paid by hand.
        channel = MANUAL.draw(self.rng) if late and self.channel == "auto_debit" else self.channel
        self.payments.append((day, amount, channel))

    def settle(self, day: date, rows: Sequence[Installment], late: bool = False) -> None:
        self.pay(day, sum(r.amount_due for r in rows) + self.penalty(day, rows), late)

    def due_day(self, row: Installment) -> date:
        """Auto-debit takes the money on the due date; others pay up to five days early."""
        if self.channel == "auto_debit":
            return row.due_on
        return row.due_on - timedelta(days=self.rng.integers(6))

    def on_time(self, rows: Sequence[Installment], late_share: float = LATE_SHARE) -> None:
        for row in rows:
            day, late = self.due_day(row), False
            if self.rng.random() < late_share:
                late_day = row.due_on + timedelta(days=self.rng.integers(1, 4))
                # Never late past the book date: that would make a good payer overdue.
                if late_day <= self.as_of:
                    day, late = late_day, True
            if day > self.as_of:
                return
            self.settle(day, [row], late)

    def performing(self, rows: Sequence[Installment]) -> str:
        """On time to the end or the book date, or paid off early in one transfer."""
        due = sum(1 for r in rows if r.due_on <= self.as_of)
        if due >= 3 and due < len(rows) and self.rng.random() < PREPAY_SHARE:
            last_paid = self.rng.integers(1, due)
            self.on_time(rows[:last_paid])
            day = rows[last_paid - 1].due_on + timedelta(days=self.rng.integers(3, 25))
            self.settle(day, rows[last_paid:])
            return "prepaid"
        self.on_time(rows)
        return "on_time"

    def increasingly_late(self, rows: Sequence[Installment]) -> None:
        """Each payment later than the one before, always in full with the penalty."""
        delays = sorted(self.rng.integers(2, 26) for _ in rows)
        for row, delay in zip(rows, delays, strict=True):
            self.settle(row.due_on + timedelta(days=delay), [row], late=True)

    def dwindling(self, rows: Sequence[Installment], shares: Sequence[int]) -> None:
        """Partial payments, each a smaller share (percent) of the first unpaid installment,
        together less than it: that installment stays overdue."""
        first = rows[0].amount_due if rows else 0
        for row, share in zip(rows, shares, strict=False):
            day = row.due_on + timedelta(days=self.rng.integers(5, 21))
            amount = max(first * share // 100 // 100 * 100, 100)  # round yuan, as people pay
            if day > self.as_of or amount >= first:
                return
            self.pay(day, amount, late=True)

    def intermittent(self, rows: Sequence[Installment]) -> None:
        """Misses one or two installments, catches up with penalty, misses again."""
        behind: list[Installment] = []
        for position, row in enumerate(rows):
            if position < len(rows) - 1 and len(behind) < 2 and self.rng.random() < 0.3:
                behind.append(row)
                continue
            if behind or self.rng.random() < 0.3:
                day = row.due_on + timedelta(days=self.rng.integers(1, 13))
                self.settle(day, [*behind, row], late=True)
            else:
                self.settle(self.due_day(row), [row])
            behind = []


def loan_payments(
    plan: LoanPlan, rows: list[Installment], payer: Payer, rng: Rng
) -> tuple[list[tuple[date, Fen, str]], str]:
    """The payments of one loan following its story; returns them and the loan's label."""
    stop, behaviour = plan.trouble_at, plan.behaviour
    if behaviour == "on_time":
        behaviour = payer.performing(rows)
    elif behaviour in ("sudden_stop", "dispute"):  # perfect history, then nothing
        payer.on_time(rows[:stop], late_share=0.0)
    elif behaviour == "slow_decline":
        payer.on_time(rows[: stop - 4], late_share=0.0)
        payer.increasingly_late(rows[stop - 4 : stop])
        payer.dwindling(rows[stop:], (rng.integers(35, 51), rng.integers(20, 31), 10))
    elif behaviour == "intermittent":
        payer.intermittent(rows[:stop])
        if rng.random() < 0.5:  # one token payment after the stop
            payer.dwindling(rows[stop:], (rng.integers(10, 31),))
    elif behaviour == "cured":  # missed a spell, paid all of it back with penalty
        payer.on_time(rows[:stop])
        caught_up = rows[stop + plan.missed]
        day = caught_up.due_on + timedelta(days=rng.integers(7))
        payer.settle(day, rows[stop : stop + plan.missed + 1], late=True)
        payer.on_time(rows[stop + plan.missed + 1 :])
    # never_paid: no payment at all
    return payer.payments, behaviour


# --- the book ----------------------------------------------------------------------------
