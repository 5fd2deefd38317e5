"""Delinquency snapshots on hand-computed loans: DPD, buckets, penalty and the waterfall."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from doorstep.domain.allocation import Component, Waterfall
from doorstep.domain.delinquency import (
    DEFAULT_BUCKETS,
    Bucket,
    BucketScheme,
    Payment,
    replay,
    snapshot,
)
from doorstep.domain.errors import InvalidValue
from doorstep.domain.schedule import Installment

DUE1, DUE2, DUE3 = date(2024, 1, 15), date(2024, 2, 15), date(2024, 3, 15)
RATE = 50_000  # 0.0005 a day in units of 1e-8
LOAN = [
    Installment(1, DUE1, 10_000, 100),
    Installment(2, DUE2, 10_000, 50),
    Installment(3, DUE3, 10_000, 25),
]
SINGLE = [Installment(1, DUE1, 10_000, 0)]


def pay(day: date, amount: int, payment_id: str = "p") -> Payment:
    return Payment(payment_id, day, amount)


def test_loan_paid_on_time_is_current() -> None:
    """Every installment paid in full on its due date: DPD 0, bucket M0, nothing overdue,
    no penalty, outstanding principal 0 after the last one."""
    payments = [pay(r.due_on, r.amount_due, f"p{r.seq}") for r in LOAN]
    for as_of in [DUE1, DUE1 + timedelta(days=1), DUE2 + timedelta(days=3), date(2025, 1, 1)]:
        snap = snapshot(LOAN, payments, RATE, as_of)
        assert (snap.dpd, snap.bucket) == (0, "M0")
        assert snap.overdue_principal == snap.overdue_interest == snap.overdue_penalty == 0
    final = snapshot(LOAN, payments, RATE, date(2025, 1, 1))
    assert final.outstanding_principal == 0
    assert final.paid_total == 30_175
    assert final.unapplied == 0


def test_first_installment_unpaid() -> None:
    """With installment 1 unpaid, DPD = as_of − its due date, and its principal and interest
    are overdue while installment 2 (not yet due) is not."""
    as_of = DUE1 + timedelta(days=20)
    snap = snapshot(LOAN, [], RATE, as_of)
    assert snap.dpd == 20
    assert snap.bucket == "M1"
    assert snap.overdue_principal == 10_000
    assert snap.overdue_interest == 100
    assert snap.overdue_penalty == 100  # 10,000 × 0.0005 × 20
    assert snap.outstanding_principal == 30_000


def test_dpd_counts_from_the_oldest_open_installment() -> None:
    """Two installments unpaid: DPD counts from the older due date, overdue sums both."""
    as_of = DUE2 + timedelta(days=5)
    snap = snapshot(LOAN, [], RATE, as_of)
    assert snap.dpd == (as_of - DUE1).days == 36
    assert snap.bucket == "M2"
    assert snap.overdue_principal == 20_000
    assert snap.overdue_interest == 150


def test_paying_the_oldest_moves_dpd_to_the_next_open_installment() -> None:
    """Once installment 1 (and its penalty) is paid, DPD counts from installment 2."""
    as_of = DUE2 + timedelta(days=5)
    snap = snapshot(LOAN, [pay(DUE1, 10_100)], RATE, as_of)
    assert snap.dpd == 5
    assert snap.overdue_principal == 10_000
    assert snap.overdue_penalty == 25  # 10,000 × 0.0005 × 5


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "M0"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M4"),
        (150, "M5"),
        (151, "M6"),
        (180, "M6"),
        (181, "M7+"),
        (2000, "M7+"),
    ],
)
def test_default_bucket_boundaries(days: int, bucket: str) -> None:
    """Default buckets: M1 1–30, M2 31–60, …, M6 151–180, M7+ from 181; DPD 0 is M0."""
    snap = snapshot(SINGLE, [], RATE, DUE1 + timedelta(days=days))
    assert snap.dpd == days
    assert snap.bucket == bucket
    assert DEFAULT_BUCKETS.bucket_of(days) == bucket


def test_due_date_equal_to_as_of_is_not_overdue() -> None:
    """On its due date an unpaid installment is not yet overdue: DPD 0 and nothing overdue."""
    snap = snapshot(LOAN, [], RATE, DUE1)
    assert (snap.dpd, snap.bucket) == (0, "M0")
    assert snap.overdue_principal == snap.overdue_interest == snap.overdue_penalty == 0
    assert snap.outstanding_principal == 30_000
    assert snapshot(LOAN, [], RATE, DUE1 + timedelta(days=1)).dpd == 1


def test_before_the_first_due_date_nothing_is_owed() -> None:
    """An as-of date before the first due date gives a current loan with no penalty."""
    snap = snapshot(LOAN, [], RATE, DUE1 - timedelta(days=10))
    assert snap.dpd == 0
    assert snap.overdue_penalty == 0


# --- penalty ------------------------------------------------------------------------------


def test_penalty_ten_days_at_five_ten_thousandths() -> None:
    """10,000 fen overdue principal at 0.0005 a day for 10 days accrues exactly 50 fen."""
    snap = snapshot(SINGLE, [], RATE, DUE1 + timedelta(days=10))
    assert snap.overdue_penalty == 50
    states, _, _ = replay(SINGLE, [], RATE, DUE1 + timedelta(days=10))
    assert states[0].penalty_accrued_units == 10_000 * 10 * 50_000 == 5 * 10**9


@pytest.mark.parametrize(
    ("principal", "rate_units", "days", "units", "penalty"),
    [
        (100, 50_000, 10, 50_000_000, 1),  # exactly 0.5 fen → 1
        (100, 49_999, 10, 49_999_000, 0),  # 0.49999 fen → 0
        (300, 50_000, 10, 150_000_000, 2),  # exactly 1.5 fen → 2
        (333, 33_333, 7, 77_699_223, 1),  # 0.777 fen → 1
        (1_000, 12_345, 1, 12_345_000, 0),  # 0.12345 fen → 0
    ],
)
def test_penalty_is_exact_and_rounded_half_up(
    principal: int, rate_units: int, days: int, units: int, penalty: int
) -> None:
    """Accrual is kept exactly (principal × days × rate units) and rounded half up to the
    fen only when read."""
    rows = [Installment(1, DUE1, principal, 0)]
    as_of = DUE1 + timedelta(days=days)
    states, _, _ = replay(rows, [], rate_units, as_of)
    assert states[0].penalty_accrued_units == units
    assert states[0].penalty_accrued == penalty
    assert snapshot(rows, [], rate_units, as_of).overdue_penalty == penalty


def test_penalty_rounds_per_installment() -> None:
    """Two installments each accruing exactly 0.5 fen show 1 fen each, 2 fen in all."""
    rows = [Installment(1, DUE1, 100, 0), Installment(2, DUE1 + timedelta(days=10), 100, 0)]
    as_of = DUE1 + timedelta(days=20)  # 20 days on #1 (1.0 fen), 10 days on #2 (0.5 → 1)
    assert snapshot(rows, [], RATE, as_of).overdue_penalty == 2
    rows = [Installment(1, DUE1, 100, 0), Installment(2, DUE1, 100, 0)]
    assert snapshot(rows, [], RATE, DUE1 + timedelta(days=10)).overdue_penalty == 2


def test_payment_on_the_due_date_accrues_nothing() -> None:
    """Paid in full on the due date: no penalty ever, DPD 0 later on."""
    snap = snapshot(SINGLE, [pay(DUE1, 10_000)], RATE, DUE1 + timedelta(days=90))
    assert snap.overdue_penalty == 0
    assert snap.dpd == 0
    assert snap.outstanding_principal == 0


def test_payment_one_day_late_pays_the_penalty_first() -> None:
    """Paid the scheduled amount one day late: one day of penalty (5 fen) takes the first
    share of the payment, so 5 fen of principal stays open and keeps the DPD running."""
    snap = snapshot(SINGLE, [pay(DUE1 + timedelta(days=1), 10_000)], RATE, DUE1 + timedelta(30))
    assert snap.overdue_principal == 5
    assert snap.dpd == 30
    # 5 fen × 0.0005 × 29 days = 0.0725 fen of further penalty → 0
    assert snap.overdue_penalty == 0
    states, _, _ = replay(SINGLE, [pay(DUE1 + timedelta(days=1), 10_000)], RATE, DUE1)
    assert states[0].paid[Component.PRINCIPAL] == 0  # payment after as_of ignored


def test_penalty_stops_on_principal_that_is_repaid() -> None:
    """A partial payment on day 5 reduces the base: 25 fen accrue on 10,000 for 5 days,
    then 25 fen on the remaining 5,000 for 10 more days."""
    payments = [pay(DUE1 + timedelta(days=5), 5_025)]
    snap = snapshot(SINGLE, payments, RATE, DUE1 + timedelta(days=15))
    assert snap.overdue_principal == 5_000
    assert snap.overdue_penalty == 25
    assert snap.dpd == 15


def test_late_payment_in_full_including_penalty_settles() -> None:
    """Paying principal + the 5 fen of one day's penalty one day late clears everything."""
    snap = snapshot(SINGLE, [pay(DUE1 + timedelta(days=1), 10_005)], RATE, DUE1 + timedelta(30))
    assert (snap.dpd, snap.overdue_principal, snap.overdue_penalty, snap.unapplied) == (0, 0, 0, 0)


def test_penalty_alone_does_not_keep_an_installment_open() -> None:
    """With principal-first ordering an installment can be settled while penalty is still
    owed: DPD is 0 but the penalty is still reported."""
    waterfall = Waterfall.parse("principal,interest,fee,penalty")
    snap = snapshot(
        SINGLE,
        [pay(DUE1 + timedelta(days=1), 10_000)],
        RATE,
        DUE1 + timedelta(30),
        waterfall=waterfall,
    )
    assert snap.dpd == 0
    assert snap.overdue_principal == 0
    assert snap.overdue_penalty == 5


def test_zero_penalty_rate() -> None:
    """With a zero penalty rate nothing accrues however late the loan is."""
    assert snapshot(LOAN, [], 0, date(2030, 1, 1)).overdue_penalty == 0


# --- waterfall inside the replay -----------------------------------------------------------


def test_partial_payment_goes_fee_penalty_interest_principal_oldest_first() -> None:
    """A partial payment pays the oldest installment's fee, then its penalty, then its
    interest, then its principal; later installments get nothing until it is settled."""
    rows = [Installment(1, DUE1, 10_000, 100, fee_due=7), Installment(2, DUE2, 10_000, 50, 3)]
    as_of = DUE1 + timedelta(days=10)  # penalty 50 fen accrued on #1
    states, unapplied, paid_total = replay(rows, [pay(as_of, 120)], RATE, as_of)
    assert states[0].paid == {
        Component.FEE: 7,
        Component.PENALTY: 50,
        Component.INTEREST: 63,
        Component.PRINCIPAL: 0,
    }
    assert states[1].paid == dict.fromkeys(Component, 0)
    assert (unapplied, paid_total) == (0, 120)
    snap = snapshot(rows, [pay(as_of, 120)], RATE, as_of)
    assert snap.overdue_fee == 0
    assert snap.overdue_interest == 37
    assert snap.overdue_principal == 10_000
    assert snap.overdue_penalty == 0


def test_excess_after_the_oldest_prepays_the_next_installment() -> None:
    """Money beyond what installment 1 owes goes to installment 2 in the same order."""
    rows = [Installment(1, DUE1, 10_000, 100, fee_due=7), Installment(2, DUE2, 10_000, 50, 3)]
    states, _, _ = replay(rows, [pay(DUE1, 10_107 + 30)], RATE, DUE1)
    assert states[0].settled()
    assert states[1].paid == {
        Component.FEE: 3,
        Component.PENALTY: 0,
        Component.INTEREST: 27,
        Component.PRINCIPAL: 0,
    }


def test_overpayment_becomes_unapplied() -> None:
    """Paying more than everything owed leaves the excess as unapplied credit."""
    total = sum(r.amount_due for r in LOAN)
    snap = snapshot(LOAN, [pay(DUE1, total + 500)], RATE, date(2025, 1, 1))
    assert snap.unapplied == 500
    assert snap.paid_total == total + 500
    assert snap.outstanding_principal == 0
    assert snap.dpd == 0


def test_payments_after_as_of_are_ignored() -> None:
    """A payment dated after the as-of date neither counts in paid_total nor settles."""
    as_of = DUE1 + timedelta(days=3)
    payments = [pay(as_of + timedelta(days=1), 10_100, "late")]
    snap = snapshot(LOAN, payments, RATE, as_of)
    assert snap.paid_total == 0
    assert snap.dpd == 3
    assert snapshot(LOAN, payments, RATE, as_of + timedelta(days=1)).paid_total == 10_100


def test_payments_apply_in_date_then_id_order() -> None:
    """Payments are replayed by (paid_on, payment_id), whatever order they are given in."""
    payments = [pay(DUE2, 10_150, "b"), pay(DUE1, 10_100, "a"), pay(DUE1, 5, "0")]
    as_of = DUE2 + timedelta(days=1)
    assert snapshot(LOAN, payments, RATE, as_of) == snapshot(
        LOAN, sorted(payments, key=lambda p: (p.paid_on, p.payment_id)), RATE, as_of
    )
    assert snapshot(LOAN, payments, RATE, as_of).dpd == 0


# --- bucket schemes -----------------------------------------------------------------------


def test_bucket_scheme_parse_custom() -> None:
    """parse reads 'name:low-high,…,name:low-' into contiguous buckets."""
    scheme = BucketScheme.parse("B1:1-7, B2:8-90 ,B3:91-")
    assert scheme.buckets == (Bucket("B1", 1, 7), Bucket("B2", 8, 90), Bucket("B3", 91, None))
    assert scheme.names == ["M0", "B1", "B2", "B3"]
    assert [scheme.bucket_of(d) for d in (-3, 0, 1, 7, 8, 90, 91, 10_000)] == [
        "M0",
        "M0",
        "B1",
        "B1",
        "B2",
        "B2",
        "B3",
        "B3",
    ]
    assert BucketScheme.parse("X:1-").bucket_of(5000) == "X"
    assert BucketScheme.parse("D1:1-1,D2:2-").bucket_of(1) == "D1"


def test_default_buckets_equal_their_parsed_form() -> None:
    """DEFAULT_BUCKETS is M1:1-30 … M6:151-180, M7+:181-."""
    text = ",".join(f"M{n}:{30 * n - 29}-{30 * n}" for n in range(1, 7)) + ",M7+:181-"
    assert BucketScheme.parse(text) == DEFAULT_BUCKETS


@pytest.mark.parametrize(
    "text",
    [
        "M1:1-30,M2:32-",  # gap
        "M1:1-30,M2:30-",  # overlap
        "M1:1-30,M2:25-60,M3:61-",  # overlap
        "M1:1-30,M2:31-60",  # last not open-ended
        "M1:1-30,M2:31-,M3:61-",  # open bucket before the last
        "M1:0-30,M2:31-",  # does not start at 1
        "M1:2-30,M2:31-",  # does not start at 1
        "M1:1-0,M2:1-",  # ends before it starts
        "M1:1-30,M2:31-x",  # not a number
        "M1",  # no range
        "",  # nothing
        "M1:-5",  # no lower bound
    ],
)
def test_bucket_scheme_parse_errors(text: str) -> None:
    """Gaps, overlaps, a closed last bucket, an open bucket in the middle, a start other
    than 1 and malformed ranges raise InvalidValue."""
    with pytest.raises(InvalidValue):
        BucketScheme.parse(text)


def test_empty_bucket_scheme_is_refused() -> None:
    """A scheme needs at least one (open-ended) bucket."""
    with pytest.raises(InvalidValue):
        BucketScheme(())


def test_custom_scheme_in_snapshot() -> None:
    """snapshot names the bucket from the scheme it is given."""
    scheme = BucketScheme.parse("early:1-7,late:8-")
    assert snapshot(SINGLE, [], RATE, DUE1 + timedelta(days=7), buckets=scheme).bucket == "early"
    assert snapshot(SINGLE, [], RATE, DUE1 + timedelta(days=8), buckets=scheme).bucket == "late"
