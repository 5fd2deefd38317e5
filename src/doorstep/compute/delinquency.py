"""The delinquency snapshot of many loans at once, mirroring `domain.delinquency.snapshot`.

Loans are laid out as dense [loans × installments] matrices and their payments as
[loans × payments]; the k-th payment of every loan is applied in one step, so the Python
loop runs once per payment position, not once per loan. Everything is int64 fen (penalty
in fen × 1e-8) — the same integer arithmetic as the domain, so results are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from doorstep.domain.allocation import Component, Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.money import RATE_SCALE

Ints = npt.NDArray[np.int64]
NEVER = np.int64(-(2**40))  # "no accrual yet": earlier than any due date


@dataclass(frozen=True)
class BookArrays:
    """Installments sorted by (loan, seq) and payments by (loan, paid_on, payment_id),
    each row tagged with its loan's position 0..loans-1. Days are days since 1970-01-01."""

    loans: int
    rate_units: Ints  # [loans] daily penalty rate in 1e-8
    inst_loan: Ints
    inst_due: Ints
    inst_principal: Ints
    inst_interest: Ints
    inst_fee: Ints
    pay_loan: Ints
    pay_day: Ints
    pay_amount: Ints


@dataclass(frozen=True)
class SnapshotArrays:
    dpd: Ints
    bucket: npt.NDArray[np.object_]
    overdue_principal: Ints
    overdue_interest: Ints
    overdue_fee: Ints
    overdue_penalty: Ints
    outstanding_principal: Ints
    unapplied: Ints
    paid_total: Ints


def _dense(loan: Ints, loans: int, *columns: Ints, fill: tuple[int, ...]) -> list[Ints]:
    """Scatter rows grouped by loan into [loans × width] matrices, in their given order."""
    counts = np.bincount(loan, minlength=loans)
    width = int(counts.max()) if loans and counts.size else 0
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(loan.size) - starts[loan]
    out = []
    for values, pad in zip(columns, fill, strict=True):
        matrix = np.full((loans, max(width, 1)), pad, dtype=np.int64)
        matrix[loan, position] = values
        out.append(matrix)
    return out


def snapshot_book(
    book: BookArrays, as_of_day: int, waterfall: Waterfall, buckets: BucketScheme
) -> SnapshotArrays:
    """Delinquency of every loan of `book` on `as_of_day`; payments after it are ignored."""
    far = np.int64(2**40)
    due, principal, interest, fee = _dense(
        book.inst_loan,
        book.loans,
        book.inst_due,
        book.inst_principal,
        book.inst_interest,
        book.inst_fee,
        fill=(int(far), 0, 0, 0),
    )
    keep = book.pay_day <= as_of_day
    pay_day, pay_amount = _dense(
        book.pay_loan[keep],
        book.loans,
        book.pay_day[keep],
        book.pay_amount[keep],
        fill=(int(NEVER), 0),
    )
    rate = book.rate_units[:, None]
    paid = {c: np.zeros_like(principal) for c in Component}
    accrued = np.zeros_like(principal)
    last = np.full(book.loans, NEVER, dtype=np.int64)

    def accrue(day: Ints, active: npt.NDArray[np.bool_]) -> None:
        start = np.maximum(last[:, None], due)
        days = np.clip(day[:, None] - start, 0, None)
        left = principal - paid[Component.PRINCIPAL]
        accrued[:] += np.where(active[:, None], left * days * rate, 0)

    def owed() -> dict[Component, Ints]:
        return {
            Component.FEE: fee - paid[Component.FEE],
            Component.PENALTY: (accrued + RATE_SCALE // 2) // RATE_SCALE - paid[Component.PENALTY],
            Component.INTEREST: interest - paid[Component.INTEREST],
            Component.PRINCIPAL: principal - paid[Component.PRINCIPAL],
        }

    width = principal.shape[1]
    slots = waterfall.slots(width)
    unapplied = np.zeros(book.loans, dtype=np.int64)
    for k in range(pay_day.shape[1]):
        amount = pay_amount[:, k]
        active = amount > 0
        accrue(pay_day[:, k], active)
        last[:] = np.where(active, pay_day[:, k], last)
        due_now = owed()
        flow = np.stack([due_now[c][:, i] for i, c in slots], axis=1)  # [loans × slots]
        before = np.cumsum(flow, axis=1) - flow
        take = np.clip(amount[:, None] - before, 0, flow)
        for column, (i, c) in enumerate(slots):
            paid[c][:, i] += take[:, column]
        unapplied += amount - take.sum(axis=1)
    accrue(np.full(book.loans, as_of_day, dtype=np.int64), np.ones(book.loans, dtype=bool))

    left = owed()
    is_due = due < as_of_day
    open_due = is_due & (
        (left[Component.FEE] != 0)
        | (left[Component.INTEREST] != 0)
        | (left[Component.PRINCIPAL] != 0)
    )
    earliest = np.where(open_due, due, far).min(axis=1)
    dpd = np.where(earliest < far, as_of_day - earliest, 0)
    return SnapshotArrays(
        dpd=dpd,
        bucket=bucket_names(dpd, buckets),
        overdue_principal=np.where(is_due, left[Component.PRINCIPAL], 0).sum(axis=1),
        overdue_interest=np.where(is_due, left[Component.INTEREST], 0).sum(axis=1),
        overdue_fee=np.where(is_due, left[Component.FEE], 0).sum(axis=1),
        overdue_penalty=left[Component.PENALTY].sum(axis=1),
        outstanding_principal=left[Component.PRINCIPAL].sum(axis=1),
        unapplied=unapplied,
        paid_total=pay_amount.sum(axis=1),
    )


def bucket_names(dpd: Ints, buckets: BucketScheme) -> npt.NDArray[np.object_]:
    """Bucket name per DPD, by the same ranges as BucketScheme.bucket_of."""
    edges = np.array([b.max_dpd for b in buckets.buckets[:-1]], dtype=np.int64)
    names = np.array([b.name for b in buckets.buckets], dtype=object)
    named = names[np.searchsorted(edges, dpd, side="left")]
    return np.where(dpd <= 0, buckets.current_name, named)
