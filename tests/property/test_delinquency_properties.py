"""Delinquency on random schedules and payment histories: conservation, consistency of the
snapshot with the replayed ledger, a day-by-day reference model, and monotonicity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from doorstep.domain.allocation import DEFAULT_WATERFALL, Component, Waterfall
from doorstep.domain.delinquency import (
    DEFAULT_BUCKETS,
    InstallmentState,
    Payment,
    replay,
    snapshot,
)
from doorstep.domain.money import RATE_SCALE
from doorstep.domain.schedule import Installment, RepaymentMethod, build_schedule

BASE = date(2024, 1, 1)


@dataclass(frozen=True)
class Case:
    principal: int
    rows: list[Installment]
    payments: list[Payment]
    rate_units: int
    as_of: date


@st.composite
def schedules(draw: st.DrawFn) -> tuple[int, list[Installment]]:
    principal = draw(st.integers(1, 5_000_000))
    months = draw(st.integers(1, 12))
    rate = draw(st.decimals(Decimal(0), Decimal("0.36"), places=4))
    method = draw(st.sampled_from(list(RepaymentMethod)))
    first_due = BASE + timedelta(days=draw(st.integers(0, 60)))
    rows = build_schedule(principal, rate, months, method, first_due)
    if draw(st.booleans()):  # some loans carry fees
        fees = draw(st.lists(st.integers(0, 500), min_size=months, max_size=months))
        rows = [
            Installment(r.seq, r.due_on, r.principal_due, r.interest_due, fee)
            for r, fee in zip(rows, fees, strict=True)
        ]
    return principal, rows


@st.composite
def payment_lists(draw: st.DrawFn, rows: list[Installment], max_size: int = 20) -> list[Payment]:
    total = sum(r.amount_due for r in rows)
    first, last = rows[0].due_on, rows[-1].due_on
    span = (last - first).days + 120
    amounts = st.one_of(
        st.integers(1, max(1, total // 3)),
        st.sampled_from([r.amount_due for r in rows] + [1]),
        st.integers(0, 2 * total + 10),
    )
    n = draw(st.integers(0, max_size))
    return [
        Payment(
            f"p{i:02d}",
            first + timedelta(days=draw(st.integers(-30, span))),
            draw(amounts),
        )
        for i in range(n)
    ]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    principal, rows = draw(schedules())
    payments = draw(payment_lists(rows))
    span = (rows[-1].due_on - rows[0].due_on).days
    as_of = rows[0].due_on + timedelta(days=draw(st.integers(-40, span + 400)))
    rate_units = draw(st.sampled_from([0, 1, 50_000, 33_333, 99_999, 12_345, 100_000]))
    return Case(principal, rows, payments, rate_units, as_of)


waterfalls = st.one_of(
    st.just(DEFAULT_WATERFALL),
    st.builds(
        lambda order, by_inst: Waterfall(tuple(order), by_inst),
        st.permutations(list(Component)),
        st.booleans(),
    ),
)


def applied(states: list[InstallmentState]) -> int:
    return sum(sum(s.paid.values()) for s in states)


@settings(max_examples=300, deadline=None)
@given(cases(), waterfalls)
def test_snapshot_agrees_with_the_replayed_ledger(case: Case, waterfall: Waterfall) -> None:
    """paid_total == Σ payments dated ≤ as_of == Σ allocations in the replayed states +
    unapplied; outstanding_principal == principal − principal paid; every overdue figure is
    ≥ 0 and matches the states; nothing is paid beyond what is owed."""
    snap = snapshot(case.rows, case.payments, case.rate_units, case.as_of, waterfall=waterfall)
    states, unapplied, paid_total = replay(
        case.rows, case.payments, case.rate_units, case.as_of, waterfall
    )
    counted = sum(p.amount for p in case.payments if p.paid_on <= case.as_of)
    assert snap.paid_total == paid_total == counted
    assert snap.unapplied == unapplied >= 0
    assert applied(states) + unapplied == paid_total
    paid_principal = sum(s.paid[Component.PRINCIPAL] for s in states)
    assert snap.outstanding_principal == case.principal - paid_principal >= 0
    for state in states:
        owed = state.owed()
        assert all(v >= 0 for v in owed.values()), (state.row, owed)
    assert snap.overdue_principal >= 0
    assert snap.overdue_interest >= 0
    assert snap.overdue_fee >= 0
    assert snap.overdue_penalty >= 0
    assert snap.overdue_principal <= snap.outstanding_principal
    assert snap.dpd >= 0
    assert snap.bucket == DEFAULT_BUCKETS.bucket_of(snap.dpd)
    if unapplied > 0:  # credit only exists when everything scheduled is paid
        assert snap.outstanding_principal == 0
        assert all(s.settled() for s in states)


@settings(max_examples=300, deadline=None)
@given(cases(), waterfalls)
def test_dpd_is_zero_iff_nothing_due_is_unsettled(case: Case, waterfall: Waterfall) -> None:
    """dpd == 0 iff no installment due before as_of has fee, interest or principal left; when
    > 0 it is the days since the oldest such installment's due date."""
    snap = snapshot(case.rows, case.payments, case.rate_units, case.as_of, waterfall=waterfall)
    states, _, _ = replay(case.rows, case.payments, case.rate_units, case.as_of, waterfall)
    open_due = [s.row.due_on for s in states if s.row.due_on < case.as_of and not s.settled()]
    assert (snap.dpd == 0) == (not open_due)
    if open_due:
        assert snap.dpd == (case.as_of - min(open_due)).days


def reference_snapshot(case: Case) -> dict[str, int]:
    """An independent day-by-day model of the documented rules with the default waterfall:
    on each day every installment past its due date accrues principal_left × rate, then that
    day's payments (by id) are split fee → penalty → interest → principal, oldest first."""
    rows = sorted(case.rows, key=lambda r: r.seq)
    paid = [dict.fromkeys(Component, 0) for _ in rows]
    units = [0] * len(rows)
    unapplied = 0
    payments = sorted(
        (p for p in case.payments if p.paid_on <= case.as_of),
        key=lambda p: (p.paid_on, p.payment_id),
    )
    start = min([rows[0].due_on, *(p.paid_on for p in payments)])
    day = start
    while day <= case.as_of:
        for i, row in enumerate(rows):
            if day > row.due_on:
                units[i] += (row.principal_due - paid[i][Component.PRINCIPAL]) * case.rate_units
        for payment in (p for p in payments if p.paid_on == day):
            left = payment.amount
            for i, row in enumerate(rows):
                penalty = (units[i] + RATE_SCALE // 2) // RATE_SCALE
                dues = {
                    Component.FEE: row.fee_due,
                    Component.PENALTY: penalty,
                    Component.INTEREST: row.interest_due,
                    Component.PRINCIPAL: row.principal_due,
                }
                for component in DEFAULT_WATERFALL.order:
                    take = min(left, dues[component] - paid[i][component])
                    paid[i][component] += take
                    left -= take
            unapplied += left
        day += timedelta(days=1)
    penalty_owed = sum(
        (u + RATE_SCALE // 2) // RATE_SCALE - p[Component.PENALTY]
        for u, p in zip(units, paid, strict=True)
    )

    def left_of(i: int, component: Component, due: int) -> int:
        return due - paid[i][component]

    due_idx = [i for i, r in enumerate(rows) if r.due_on < case.as_of]
    open_idx = [
        i
        for i in due_idx
        if left_of(i, Component.FEE, rows[i].fee_due)
        or left_of(i, Component.INTEREST, rows[i].interest_due)
        or left_of(i, Component.PRINCIPAL, rows[i].principal_due)
    ]
    return {
        "dpd": (case.as_of - rows[open_idx[0]].due_on).days if open_idx else 0,
        "overdue_principal": sum(
            left_of(i, Component.PRINCIPAL, rows[i].principal_due) for i in due_idx
        ),
        "overdue_interest": sum(
            left_of(i, Component.INTEREST, rows[i].interest_due) for i in due_idx
        ),
        "overdue_fee": sum(left_of(i, Component.FEE, rows[i].fee_due) for i in due_idx),
        "overdue_penalty": penalty_owed,
        "outstanding_principal": sum(
            left_of(i, Component.PRINCIPAL, r.principal_due) for i, r in enumerate(rows)
        ),
        "unapplied": unapplied,
        "paid_total": sum(p.amount for p in payments),
    }


@settings(max_examples=200, deadline=None)
@given(cases())
def test_snapshot_equals_a_day_by_day_reference(case: Case) -> None:
    """The event-driven replay gives exactly the figures of a naive day-by-day simulation
    of the same rules (penalty accrual, per-installment half-up rounding, waterfall)."""
    snap = snapshot(case.rows, case.payments, case.rate_units, case.as_of)
    expected = reference_snapshot(case)
    assert {k: getattr(snap, k) for k in expected} == expected


def everything_owed(case: Case, on: date) -> int:
    """Outstanding principal + all interest and fees not yet paid + penalty owed, on `on`."""
    states, _, _ = replay(case.rows, case.payments, case.rate_units, on)
    return sum(sum(s.owed().values()) for s in states)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(1, 400))
def test_paying_everything_owed_clears_the_loan(case: Case, later: int) -> None:
    """Paying, on day D, everything a snapshot at D says is owed (outstanding principal, all
    interest and fees, penalty) makes DPD 0 and nothing overdue on D+1 and on any later day,
    with no unapplied credit created by that payment."""
    day = case.as_of
    history = [p for p in case.payments if p.paid_on <= day]
    settle_case = Case(case.principal, case.rows, history, case.rate_units, day)
    owed = everything_owed(settle_case, day)
    before = snapshot(case.rows, history, case.rate_units, day)
    payments = [*history, Payment("zz-settle", day, owed)]
    for after in (day + timedelta(days=1), day + timedelta(days=later)):
        snap = snapshot(case.rows, payments, case.rate_units, after)
        assert snap.dpd == 0
        assert snap.bucket == "M0"
        assert snap.outstanding_principal == 0
        assert snap.overdue_principal == snap.overdue_interest == snap.overdue_fee == 0
        assert snap.overdue_penalty == 0
        assert snap.unapplied == before.unapplied


@settings(max_examples=300, deadline=None)
@given(cases(), waterfalls, st.data())
def test_adding_a_payment_never_increases_dpd(
    case: Case, waterfall: Waterfall, data: st.DataObject
) -> None:
    """Adding one more payment (any date, any amount) to a history never raises the DPD,
    the outstanding principal or the overdue principal, on any as-of date, under the
    default waterfall or any other component order."""
    extra_day = case.rows[0].due_on + timedelta(days=data.draw(st.integers(-30, 500)))
    extra_id = data.draw(st.sampled_from(["a", "p05", "zz"]))
    extra = Payment(extra_id, extra_day, data.draw(st.integers(1, case.principal * 2)))
    base = snapshot(case.rows, case.payments, case.rate_units, case.as_of, waterfall=waterfall)
    more = snapshot(
        case.rows, [*case.payments, extra], case.rate_units, case.as_of, waterfall=waterfall
    )
    assert more.dpd <= base.dpd
    assert more.outstanding_principal <= base.outstanding_principal
    assert more.overdue_principal <= base.overdue_principal
    assert more.paid_total >= base.paid_total
