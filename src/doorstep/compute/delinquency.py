"""The delinquency snapshot of many loans at once, mirroring `domain.delinquency.snapshot`.

Loans with the same number of installments are laid out as dense [loans × installments]
matrices, sorted by how many payments they have (most first) and cut into chunks that fit
the CPU cache. The k-th payment of every loan of a chunk is applied in one step, to the
leading rows that have a k-th payment, so the Python loop runs once per payment position
and no work is spent on padding. Everything is int64 fen (penalty in fen × 1e-8) — the
same integer arithmetic as the domain, so results are identical.
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
FAR = np.int64(2**40)  # "never due": later than any date
HALF = RATE_SCALE // 2
CHUNK = 8192  # loans computed together: their [loans × slots] matrices stay in cache


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


def _starts(counts: Ints) -> Ints:
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


@dataclass
class _Result:
    """Per-loan outputs, filled chunk by chunk."""

    dpd: Ints
    overdue_principal: Ints
    overdue_interest: Ints
    overdue_fee: Ints
    overdue_penalty: Ints
    outstanding_principal: Ints
    unapplied: Ints

    @classmethod
    def zeros(cls, loans: int) -> _Result:
        return cls(*(np.zeros(loans, dtype=np.int64) for _ in range(7)))


def _allocate(amount: Ints, owed: list[Ints], by_installment: bool) -> tuple[list[Ints], Ints]:
    """Split each row's `amount` over its [rows × installments] owed matrices, given in
    waterfall order, exactly as `domain.allocation.allocate` fills its slots one after the
    other; returns (what each matrix takes, what is left unapplied per row)."""
    taken = []
    if by_installment:  # installment by installment, each component in order within one
        total = owed[0].copy()
        for matrix in owed[1:]:
            total += matrix
        before = np.cumsum(total, axis=1)
        everything = before[:, -1].copy()
        before -= total
        available = np.subtract(amount[:, None], before, out=before)
        np.clip(available, 0, total, out=available)
        for position, matrix in enumerate(owed):
            take = np.minimum(available, matrix)
            if position < len(owed) - 1:
                available -= take
            taken.append(take)
        return taken, np.maximum(amount - everything, 0)
    left = amount.copy()  # component by component, each across all installments
    for matrix in owed:
        before = np.cumsum(matrix, axis=1)
        total = before[:, -1].copy()
        before -= matrix
        take = np.subtract(left[:, None], before, out=before)
        np.clip(take, 0, matrix, out=take)
        taken.append(take)
        left -= np.minimum(left, total)
    return taken, left


def _schedule_matrices(
    book: BookArrays, members: Ints, width: int, inst_start: Ints
) -> tuple[int, Ints, dict[Component, Ints]]:
    """(width, due days, amounts owed per component) of `members`' installments, one row
    per loan; a loan without a schedule gets one empty installment that is never due."""
    size = members.size
    if width:
        rows = inst_start[members][:, None] + np.arange(width)
        return (
            width,
            book.inst_due[rows],
            {
                Component.FEE: book.inst_fee[rows],
                Component.INTEREST: book.inst_interest[rows],
                Component.PRINCIPAL: book.inst_principal[rows],
            },
        )
    owed: dict[Component, Ints] = {
        c: np.zeros((size, 1), dtype=np.int64) for c in Component if c is not Component.PENALTY
    }
    return 1, np.full((size, 1), FAR, dtype=np.int64), owed


def _chunk(
    book: BookArrays,
    members: Ints,
    width: int,
    inst_start: Ints,
    pay_start: Ints,
    pay_count: Ints,
    pay_day: Ints,
    pay_amount: Ints,
    as_of_day: int,
    order: tuple[Component, ...],
    by_installment: bool,
    out: _Result,
) -> None:
    """Replay the payments of `members` (loans with `width` installments, sorted by
    payment count, most first) and store their snapshots in `out`."""
    size = members.size
    width, due, owed = _schedule_matrices(book, members, width, inst_start)
    rate = book.rate_units[members][:, None]
    accrued = np.zeros((size, width), dtype=np.int64)
    penalty_paid = np.zeros((size, width), dtype=np.int64)
    last = np.full(size, NEVER, dtype=np.int64)
    unapplied = np.zeros(size, dtype=np.int64)
    counts = pay_count[members]
    first_payment = pay_start[members]

    def accrue(m: int, day: Ints) -> None:
        days = day[:, None] - np.maximum(last[:m, None], due[:m])
        np.maximum(days, 0, out=days)
        days *= owed[Component.PRINCIPAL][:m]
        days *= rate[:m]
        accrued[:m] += days

    for k in range(int(counts[0]) if size else 0):
        m = int(np.count_nonzero(counts > k)) if counts[-1] <= k else size
        index = first_payment[:m] + k
        day, amount = pay_day[index], pay_amount[index]
        accrue(m, day)
        last[:m] = day
        penalty = (accrued[:m] + HALF) // RATE_SCALE
        penalty -= penalty_paid[:m]
        flows = [penalty if c is Component.PENALTY else owed[c][:m] for c in order]
        taken, left = _allocate(amount, flows, by_installment)
        for component, take in zip(order, taken, strict=True):
            if component is Component.PENALTY:
                penalty_paid[:m] += take
            else:
                owed[component][:m] -= take
        unapplied[:m] += left
    accrue(size, np.full(size, as_of_day, dtype=np.int64))

    penalty_left = (accrued + HALF) // RATE_SCALE - penalty_paid
    fee, interest, principal = (
        owed[Component.FEE],
        owed[Component.INTEREST],
        owed[Component.PRINCIPAL],
    )
    is_due = due < as_of_day
    open_due = is_due & ((fee != 0) | (interest != 0) | (principal != 0))
    earliest = np.where(open_due, due, FAR).min(axis=1)
    out.dpd[members] = np.where(earliest < FAR, as_of_day - earliest, 0)
    out.overdue_principal[members] = np.where(is_due, principal, 0).sum(axis=1)
    out.overdue_interest[members] = np.where(is_due, interest, 0).sum(axis=1)
    out.overdue_fee[members] = np.where(is_due, fee, 0).sum(axis=1)
    out.overdue_penalty[members] = penalty_left.sum(axis=1)
    out.outstanding_principal[members] = principal.sum(axis=1)
    out.unapplied[members] = unapplied


def snapshot_book(
    book: BookArrays, as_of_day: int, waterfall: Waterfall, buckets: BucketScheme
) -> SnapshotArrays:
    """Delinquency of every loan of `book` on `as_of_day`; payments after it are ignored."""
    loans = book.loans
    keep = book.pay_day <= as_of_day
    pay_loan = book.pay_loan[keep]
    pay_day = book.pay_day[keep]
    pay_amount = book.pay_amount[keep]
    inst_count = np.bincount(book.inst_loan, minlength=loans).astype(np.int64)
    pay_count = np.bincount(pay_loan, minlength=loans).astype(np.int64)
    inst_start, pay_start = _starts(inst_count), _starts(pay_count)
    out = _Result.zeros(loans)
    order = waterfall.order
    # by installment count, then most payments first: chunks with little padding
    by_shape = np.lexsort((-pay_count, inst_count))
    widths = inst_count[by_shape]
    bounds = np.flatnonzero(np.diff(widths)) + 1
    for group in np.split(by_shape, bounds):
        if not group.size:
            continue
        width = int(inst_count[group[0]])
        for start in range(0, group.size, CHUNK):
            _chunk(
                book,
                group[start : start + CHUNK],
                width,
                inst_start,
                pay_start,
                pay_count,
                pay_day,
                pay_amount,
                as_of_day,
                order,
                waterfall.by_installment,
                out,
            )
    paid = np.zeros(pay_amount.size + 1, dtype=np.int64)
    np.cumsum(pay_amount, out=paid[1:])
    paid_total = paid[pay_start + pay_count] - paid[pay_start]
    return SnapshotArrays(
        dpd=out.dpd,
        bucket=bucket_names(out.dpd, buckets),
        overdue_principal=out.overdue_principal,
        overdue_interest=out.overdue_interest,
        overdue_fee=out.overdue_fee,
        overdue_penalty=out.overdue_penalty,
        outstanding_principal=out.outstanding_principal,
        unapplied=out.unapplied,
        paid_total=paid_total,
    )


def bucket_names(dpd: Ints, buckets: BucketScheme) -> npt.NDArray[np.object_]:
    """Bucket name per DPD, by the same ranges as BucketScheme.bucket_of."""
    edges = np.array([b.max_dpd for b in buckets.buckets[:-1]], dtype=np.int64)
    names = np.array([b.name for b in buckets.buckets], dtype=object)
    named = names[np.searchsorted(edges, dpd, side="left")]
    return np.where(dpd <= 0, buckets.current_name, named)
