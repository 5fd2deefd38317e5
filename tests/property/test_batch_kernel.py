"""The vectorised delinquency kernel gives exactly the pure domain function's figures."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from doorstep.compute.delinquency import BookArrays, snapshot_book
from doorstep.domain.allocation import DEFAULT_WATERFALL, Component, Waterfall
from doorstep.domain.delinquency import DEFAULT_BUCKETS, BucketScheme, snapshot
from tests.strategies.loans import SNAPSHOT_FIELDS, LoanCase, loan_cases

EPOCH = date(1970, 1, 1)
FIELDS = SNAPSHOT_FIELDS


def to_arrays(cases: list[LoanCase]) -> BookArrays:
    inst: list[list[int]] = [[], [], [], [], []]
    pays: list[list[int]] = [[], [], []]
    for n, case in enumerate(cases):
        for row in case.installments:
            for column, value in zip(
                inst,
                (n, (row.due_on - EPOCH).days, row.principal_due, row.interest_due, row.fee_due),
                strict=True,
            ):
                column.append(value)
        for p in sorted(case.payments, key=lambda p: (p.paid_on, p.payment_id)):
            for column, value in zip(pays, (n, (p.paid_on - EPOCH).days, p.amount), strict=True):
                column.append(value)

    def a(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return BookArrays(
        len(cases), a([c.penalty_rate_units for c in cases]), *map(a, inst), *map(a, pays)
    )


waterfalls = st.permutations(list(Component)).flatmap(
    lambda order: st.builds(Waterfall, st.just(tuple(order)), st.booleans())
)


@settings(max_examples=150, deadline=None)
@given(
    cases=st.lists(loan_cases(), min_size=5, max_size=40),
    as_of_offset=st.integers(-40, 900),
    waterfall=st.one_of(st.just(DEFAULT_WATERFALL), waterfalls),
)
def test_kernel_equals_domain(
    cases: list[LoanCase], as_of_offset: int, waterfall: Waterfall
) -> None:
    """Every field of every loan's snapshot equals domain.delinquency.snapshot, for any
    waterfall order and any as-of date (before the first due date, mid-term, long after)."""
    as_of = date(2023, 2, 1) + timedelta(days=as_of_offset)
    result = snapshot_book(to_arrays(cases), (as_of - EPOCH).days, waterfall, DEFAULT_BUCKETS)
    for n, case in enumerate(cases):
        expected = snapshot(
            case.installments, case.payments, case.penalty_rate_units, as_of, waterfall=waterfall
        )
        got = {f: getattr(result, f)[n] for f in FIELDS}
        assert {f: (str(v) if f == "bucket" else int(v)) for f, v in got.items()} == {
            f: getattr(expected, f) for f in FIELDS
        }, f"loan {n}"


@given(
    dpd=st.integers(-5, 2000),
    scheme=st.sampled_from(
        [
            DEFAULT_BUCKETS,
            BucketScheme.parse("B1:1-7,B2:8-90,B3:91-"),
            BucketScheme.parse("X:1-"),
        ]
    ),
)
def test_bucket_names_match_domain(dpd: int, scheme: BucketScheme) -> None:
    """The vectorised bucket lookup agrees with BucketScheme.bucket_of at every DPD."""
    from doorstep.compute.delinquency import bucket_names

    assert bucket_names(np.array([dpd], dtype=np.int64), scheme)[0] == scheme.bucket_of(dpd)
