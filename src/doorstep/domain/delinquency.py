"""Delinquency as of a date: replay a loan's payments over its schedule.

Rules (the vectorised batch in `doorstep.compute` mirrors them exactly):
- Payments dated on or before the as-of date are applied in (paid_on, payment_id) order.
- Before each payment, and at the as-of date, penalty accrues on each installment's
  unpaid principal for every day after its due date, at the loan's daily penalty rate.
  Accrual is kept exactly as integer fen × 1e-8 and rounded half up to the fen per
  installment whenever it is read, so no fraction of a fen is ever created or lost.
- A payment is split by the waterfall over all installments (later ones are prepaid);
  what exceeds everything owed is kept as unapplied credit.
- An installment is overdue on the as-of date when its due date is earlier and its
  principal, interest or fee is not fully paid; DPD counts days since the earliest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from doorstep.domain.allocation import DEFAULT_WATERFALL, Component, Waterfall, allocate
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import RATE_SCALE, Fen
from doorstep.domain.schedule import Installment


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    paid_on: date
    amount: Fen


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    min_dpd: int
    max_dpd: int | None  # None: open-ended


@dataclass(frozen=True, slots=True)
class BucketScheme:
    """Ordered, contiguous DPD ranges starting at 1; DPD 0 is `current_name`."""

    buckets: tuple[Bucket, ...]
    current_name: str = "M0"

    def __post_init__(self) -> None:
        expected = 1
        for position, bucket in enumerate(self.buckets):
            last = position == len(self.buckets) - 1
            if bucket.min_dpd != expected:
                raise InvalidValue(f"bucket {bucket.name} must start at DPD {expected}")
            if bucket.max_dpd is None and not last:
                raise InvalidValue(f"only the last bucket may be open-ended ({bucket.name})")
            if bucket.max_dpd is not None:
                if bucket.max_dpd < bucket.min_dpd:
                    raise InvalidValue(f"bucket {bucket.name} ends before it starts")
                expected = bucket.max_dpd + 1
        names = [b.name for b in self.buckets] + [self.current_name]
        if len(set(names)) != len(names):
            raise InvalidValue(f"bucket names must differ: {names}")
        if not self.buckets or self.buckets[-1].max_dpd is not None:
            raise InvalidValue("the last bucket must be open-ended")

    @classmethod
    def parse(cls, text: str) -> BucketScheme:
        """'M1:1-30,M2:31-60,M3+:61-' -> BucketScheme."""
        buckets = []
        for part in text.split(","):
            name, _, span = part.strip().partition(":")
            low, _, high = span.partition("-")
            try:
                buckets.append(Bucket(name, int(low), int(high) if high else None))
            except ValueError as exc:
                raise InvalidValue(f"bad bucket definition {part!r}") from exc
        return cls(tuple(buckets))

    def bucket_of(self, dpd: int) -> str:
        if dpd <= 0:
            return self.current_name
        for bucket in self.buckets:
            if bucket.max_dpd is None or dpd <= bucket.max_dpd:
                return bucket.name
        raise AssertionError("unreachable: the last bucket is open-ended")

    @property
    def names(self) -> list[str]:
        return [self.current_name, *(b.name for b in self.buckets)]


DEFAULT_BUCKETS = BucketScheme(
    (
        *(Bucket(f"M{n}", 30 * (n - 1) + 1, 30 * n) for n in range(1, 7)),
        Bucket("M7+", 181, None),
    )
)


@dataclass(slots=True)
class InstallmentState:
    """What one installment owes and has been paid, while the ledger is replayed."""

    row: Installment
    paid: dict[Component, Fen] = field(default_factory=lambda: dict.fromkeys(Component, 0))
    penalty_accrued_units: int = 0  # fen × 1e-8, exact

    @property
    def penalty_accrued(self) -> Fen:
        return (self.penalty_accrued_units + RATE_SCALE // 2) // RATE_SCALE

    @property
    def principal_left(self) -> Fen:
        return self.row.principal_due - self.paid[Component.PRINCIPAL]

    def owed(self) -> dict[Component, Fen]:
        return {
            Component.FEE: self.row.fee_due - self.paid[Component.FEE],
            Component.PENALTY: self.penalty_accrued - self.paid[Component.PENALTY],
            Component.INTEREST: self.row.interest_due - self.paid[Component.INTEREST],
            Component.PRINCIPAL: self.principal_left,
        }

    def settled(self) -> bool:
        """Scheduled amounts all paid (penalty does not keep an installment open)."""
        owed = self.owed()
        return owed[Component.FEE] == owed[Component.INTEREST] == owed[Component.PRINCIPAL] == 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    as_of: date
    dpd: int
    bucket: str
    overdue_principal: Fen
    overdue_interest: Fen
    overdue_fee: Fen
    overdue_penalty: Fen
    outstanding_principal: Fen
    unapplied: Fen
    paid_total: Fen


def replay(
    installments: Sequence[Installment],
    payments: Iterable[Payment],
    penalty_rate_units: int,
    as_of: date,
    waterfall: Waterfall = DEFAULT_WATERFALL,
) -> tuple[list[InstallmentState], Fen, Fen]:
    """Apply payments up to `as_of`; returns (states, unapplied credit, total paid)."""
    states = [InstallmentState(row) for row in sorted(installments, key=lambda r: r.seq)]
    last_accrual: date | None = None
    unapplied = paid_total = 0

    def accrue_to(day: date) -> None:
        for state in states:
            start = (
                state.row.due_on if last_accrual is None else max(last_accrual, state.row.due_on)
            )
            days = (day - start).days
            if days > 0 and state.principal_left > 0:
                state.penalty_accrued_units += state.principal_left * days * penalty_rate_units

    for payment in sorted(payments, key=lambda p: (p.paid_on, p.payment_id)):
        if payment.paid_on > as_of:
            break
        accrue_to(payment.paid_on)
        last_accrual = payment.paid_on
        allocations, left = allocate(payment.amount, [s.owed() for s in states], waterfall)
        for state, allocation in zip(states, allocations, strict=True):
            for component, amount in allocation.items():
                state.paid[component] += amount
        unapplied += left
        paid_total += payment.amount
    accrue_to(as_of)
    return states, unapplied, paid_total


def snapshot(
    installments: Sequence[Installment],
    payments: Iterable[Payment],
    penalty_rate_units: int,
    as_of: date,
    *,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> Snapshot:
    """The delinquency of one loan on `as_of`."""
    states, unapplied, paid_total = replay(
        installments, payments, penalty_rate_units, as_of, waterfall
    )
    due = [s for s in states if s.row.due_on < as_of]
    open_due = [s for s in due if not s.settled()]
    dpd = (as_of - min(s.row.due_on for s in open_due)).days if open_due else 0
    return Snapshot(
        as_of=as_of,
        dpd=dpd,
        bucket=buckets.bucket_of(dpd),
        overdue_principal=sum(s.owed()[Component.PRINCIPAL] for s in due),
        overdue_interest=sum(s.owed()[Component.INTEREST] for s in due),
        overdue_fee=sum(s.owed()[Component.FEE] for s in due),
        overdue_penalty=sum(s.owed()[Component.PENALTY] for s in states),
        outstanding_principal=sum(s.principal_left for s in states),
        unapplied=unapplied,
        paid_total=paid_total,
    )
