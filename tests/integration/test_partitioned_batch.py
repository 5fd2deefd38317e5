"""The delinquency batch split into hash partitions gives the unpartitioned figures."""

from __future__ import annotations

import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.services.delinquency import (
    Dispatch,
    PartitionFailed,
    PartitionOutcome,
    in_process,
    run_delinquency,
    run_partition,
    run_partitioned,
)
from doorstep.store.db import transaction
from doorstep.store.models import DelinquencySnapshot
from doorstep.store.repositories.book import partition_of
from tests.integration.test_delinquency_batch import book_of, ingest_book, random_cases

pytestmark = pytest.mark.db
AS_OF = date(2024, 9, 30)
KW: dict[str, Any] = {"waterfall": DEFAULT_WATERFALL, "buckets": DEFAULT_BUCKETS}


def stored(engine: Engine) -> dict[str, tuple[Any, ...]]:
    s = DelinquencySnapshot
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                s.loan_id,
                s.dpd,
                s.bucket,
                s.overdue_principal,
                s.overdue_interest,
                s.overdue_fee,
                s.overdue_penalty,
                s.outstanding_principal,
                s.unapplied,
            ).where(s.as_of == AS_OF)
        ).all()
    figures = {row[0]: tuple(row[1:]) for row in rows}
    assert len(figures) == len(rows)  # no loan twice
    return figures


@pytest.fixture
def book_engine(engine: Engine, tmp_path: Path) -> Engine:
    """~600 hypothesis-generated loans with their payment histories."""
    folder = book_of(random_cases(600, seed=11)).write(tmp_path / "book")
    with transaction(engine) as session:
        ingest_book(session, folder)
    return engine


def test_partition_is_stable_and_spreads() -> None:
    ids = [f"L{n:05d}" for n in range(4000)]
    counts = [0] * 4
    for loan_id in ids:
        counts[partition_of(loan_id, 4)] += 1
    assert partition_of("L00042", 4) == zlib.crc32(b"L00042") % 4  # not the salted hash()
    assert min(counts) > 900


def test_partitioned_equals_unpartitioned(book_engine: Engine) -> None:
    """Four partitions (small chunks, so each spans several) store exactly the rows of
    the one-pass batch, and the merged figures are the same; a rerun changes nothing."""
    with transaction(book_engine) as session:
        whole = run_delinquency(session, AS_OF, per_range=250, **KW)
    expected = stored(book_engine)
    with transaction(book_engine) as session:  # start from nothing for the date
        session.execute(DelinquencySnapshot.__table__.delete())
    dispatch = in_process(book_engine, per_range=70, **KW)
    for _ in range(2):  # the second run replaces each partition's rows
        merged = run_partitioned(AS_OF, 4, dispatch)
        assert stored(book_engine) == expected
    assert (merged.loans, merged.overdue_loans) == (whole.loans, whole.overdue_loans)
    assert merged.loans == 600
    assert merged.by_bucket == whole.by_bucket
    assert 0 < whole.overdue_loans < 600


def test_partition_delivered_twice_changes_nothing(book_engine: Engine) -> None:
    """One partition's task run twice writes its loans once, touching no other loan."""
    figures = []
    for _ in range(2):
        with transaction(book_engine) as session:
            figures.append(run_partition(session, AS_OF, 2, 4, per_range=90, **KW).as_dict())
        rows = stored(book_engine)
        assert rows and all(partition_of(loan_id, 4) == 2 for loan_id in rows)
    assert figures[0] == figures[1]
    assert figures[0]["loans"] == len(rows)


def test_poisoned_partition_fails_loudly_with_its_id(book_engine: Engine) -> None:
    """A partition that raises (here: one whose worker runs a broken kernel) fails the
    whole step, naming that partition; one that never reports fails it too."""
    real = in_process(book_engine, **KW)

    def poisoned(as_of: date, partitions: int) -> list[PartitionOutcome]:
        outcomes = list(real(as_of, partitions))
        outcomes[2] = ZeroDivisionError("bad rate in loan L00017")
        return outcomes

    with pytest.raises(PartitionFailed, match=r"partition\(s\) 2 of 4 failed.*ZeroDivisionError"):
        run_partitioned(AS_OF, 4, poisoned)

    lost: Dispatch = lambda as_of, partitions: list(real(as_of, partitions))[:3]  # noqa: E731
    with pytest.raises(PartitionFailed, match=r"partition\(s\) 3 of 4"):
        run_partitioned(AS_OF, 4, lost)
