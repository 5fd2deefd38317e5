"""The delinquency batch over the database gives the pure domain function's figures."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS, snapshot
from doorstep.domain.money import format_yuan
from doorstep.domain.ports import FixedClock
from doorstep.services.delinquency import delinquency_table, run_delinquency
from doorstep.services.ingest import ingest_files
from doorstep.store.db import transaction
from doorstep.store.models import DelinquencySnapshot
from tests.factories.book import Book, make_keys, national_id
from tests.strategies.loans import SNAPSHOT_FIELDS, LoanCase, loan_cases

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
AS_OF = date(2024, 9, 30)


def book_of(cases: list[LoanCase]) -> Book:
    book = Book({"customers": [], "loans": [], "installments": [], "payments": []})
    for n, case in enumerate(cases):
        cid, lid = f"C{n:05d}", f"L{n:05d}"
        book.rows["customers"].append(
            {
                "customer_id": cid,
                "name": "客户",
                "id_number": national_id(seq=f"{n % 500 * 2 + 1:03d}"),
                "gender": "M",
                "birth_date": "1990-03-07",
                "employer": "",
            }
        )
        book.rows["loans"].append(
            {
                "loan_id": lid,
                "customer_id": cid,
                "product": "cash",
                "principal": format_yuan(case.principal),
                "annual_rate": str(case.annual_rate),
                "term_months": str(case.months),
                "method": case.method.value,
                "disbursed_on": case.disbursed_on.isoformat(),
                "first_due_on": case.first_due_on.isoformat(),
                "penalty_rate_daily": str(case.penalty_rate_units / 10**8),
            }
        )
        for p in case.payments:
            book.rows["payments"].append(
                {
                    "payment_id": f"{lid}-{p.payment_id}",
                    "loan_id": lid,
                    "paid_on": max(p.paid_on, case.disbursed_on).isoformat(),
                    "amount": format_yuan(p.amount),
                    "channel": "alipay",
                }
            )
    del book.rows["installments"]  # generated from the loans by ingestion
    return book


def expected(case: LoanCase, as_of: date) -> dict[str, object]:
    payments = [
        type(p)(f"x-{p.payment_id}", max(p.paid_on, case.disbursed_on), p.amount)
        for p in case.payments
    ]
    s = snapshot(case.installments, payments, case.penalty_rate_units, as_of)
    return {f: getattr(s, f) for f in COMPARED}


COMPARED = SNAPSHOT_FIELDS[:-1]  # paid_total is not stored


AFTER_EVERY_PAYMENT = FixedClock(datetime(2100, 1, 1, tzinfo=UTC))
"""The generated histories run past the as-of dates (the batch must ignore the later
payments), and ingest refuses payments dated after its today: they are ingested on a
day after all of them."""


def ingest_book(session: Session, folder: Path) -> None:
    cipher, hasher = make_keys()
    ingest_files(
        session,
        [folder],
        zone=ZONE,
        reports_dir=folder / "reports",
        cipher=cipher,  # type: ignore[arg-type]
        hasher=hasher,  # type: ignore[arg-type]
        clock=AFTER_EVERY_PAYMENT,
    )


def random_cases(count: int, seed: int) -> list[LoanCase]:
    """`count` loans drawn from the hypothesis strategy with a fixed seed."""
    rng = random.Random(seed)
    strategy = loan_cases()
    cases: list[LoanCase] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: LoanCase) -> None:
        cases.append(case)

    collect()
    rng.shuffle(cases)
    return cases[:count]


def test_batch_equals_domain_on_generated_book(engine: Engine, tmp_path: Path) -> None:
    """Ingest ~1,500 hypothesis-generated loans with their payment histories, run the batch
    twice (a rerun replaces the date), and compare every stored figure with the domain."""
    cases = random_cases(1500, seed=7)
    folder = book_of(cases).write(tmp_path / "book")
    with transaction(engine) as session:
        ingest_book(session, folder)
    for _ in range(2):
        with transaction(engine) as session:
            summary = run_delinquency(
                session, AS_OF, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS, per_range=400
            )
    assert summary.loans == len(cases)
    with transaction(engine) as session:
        stored = {
            row.loan_id: {f: getattr(row, f) for f in COMPARED}
            for row in session.scalars(select(DelinquencySnapshot))
        }
        assert session.scalar(select(func.count()).select_from(DelinquencySnapshot)) == len(cases)
    mismatches = [n for n, case in enumerate(cases) if stored[f"L{n:05d}"] != expected(case, AS_OF)]
    assert not mismatches, f"{len(mismatches)} loans differ, first: L{mismatches[0]:05d}"
    assert 0 < sum(1 for s in stored.values() if s["dpd"]) < len(cases)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases=st.lists(loan_cases(), min_size=1, max_size=30), offset=st.integers(-60, 700))
def test_export_without_batch_computes_same_figures(
    cases: list[LoanCase], offset: int, tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> None:
    """Before the batch ran for a date, the delinquency table is computed on the fly and
    matches the domain too (each example gets its own book in a fresh folder)."""
    as_of = date(2023, 3, 1) + timedelta(days=offset)
    folder = book_of(cases).write(tmp_path_factory.mktemp("book"))
    with transaction(engine) as session:
        ingest_book(session, folder)
        table = delinquency_table(
            session, as_of, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS
        )
        session.rollback()
    rows = {r["loan_id"]: r for r in table.to_dicts()}
    for n, case in enumerate(cases):
        want = expected(case, as_of)
        got = rows[f"L{n:05d}"]
        assert {f: got[f] for f in COMPARED if f != "unapplied"} == {
            f: v for f, v in want.items() if f != "unapplied"
        }
