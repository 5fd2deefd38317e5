"""The delinquency batch split into partitions (runs of the slot stored with each loan)
gives the unpartitioned figures; the slot is filled at ingest and by the migration."""

from __future__ import annotations

import itertools
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import PartitionFailed
from doorstep.services.delinquency import (
    Dispatch,
    PartitionOutcome,
    in_process,
    run_delinquency,
    run_partition,
    run_partitioned,
)
from doorstep.store import migrate
from doorstep.store.db import transaction
from doorstep.store.models import DelinquencySnapshot, Loan
from doorstep.store.models.loan import PARTITION_SLOTS, partition_slot
from doorstep.store.repositories.book import partition_of, slot_range
from tests.factories import databases
from tests.integration.test_delinquency_batch import book_of, ingest_book, random_cases
from tests.integration.test_ingest import stray_slots

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
    """~600 hypothesis-generated loans with their payment histories (ingested once per
    worker and backend, then copied: tests/factories/databases.py)."""

    def ingest() -> None:
        folder = book_of(random_cases(600, seed=11)).write(tmp_path / "book")
        with transaction(engine) as session:
            ingest_book(session, folder)

    databases.built_once(engine, "partitioned-book-600", ingest)
    return engine


def test_partition_is_stable_and_spreads() -> None:
    ids = [f"C{n:05d}" for n in range(4000)]
    counts = [0] * 4
    for customer_id in ids:
        counts[partition_of(customer_id, 4)] += 1
    slot = zlib.crc32(b"C00042") % PARTITION_SLOTS  # not the salted hash()
    assert partition_slot("C00042") == slot
    assert partition_of("C00042", 4) == slot * 4 // PARTITION_SLOTS
    assert min(counts) > 900


@pytest.mark.parametrize("partitions", [1, 3, 4, 7, 8, 1000, PARTITION_SLOTS])
def test_partitions_are_contiguous_runs_covering_every_slot(partitions: int) -> None:
    runs = [slot_range(n, partitions) for n in range(partitions)]
    assert runs[0][0] == 0 and runs[-1][1] == PARTITION_SLOTS - 1
    for (_, last), (first, _) in itertools.pairwise(runs):
        assert first == last + 1
    for n, (first, last) in enumerate(runs):  # the run is exactly the slots partition_of maps
        assert first <= last
        assert {s * partitions // PARTITION_SLOTS for s in range(first, last + 1)} == {n}
    with pytest.raises(ValueError, match="is not in"):
        slot_range(partitions, partitions)


def slots(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(Loan.loan_id, Loan.customer_id, Loan.partition_slot))
        return {loan_id: (customer, slot) for loan_id, customer, slot in rows}


def test_ingest_stores_each_loans_slot(book_engine: Engine) -> None:
    stored_slots = slots(book_engine)
    assert len(stored_slots) == 600
    assert all(slot == partition_slot(c) for c, slot in stored_slots.values())


def test_migration_backfills_the_slots_of_existing_loans(book_engine: Engine) -> None:
    """Down to 0014 (no slot column) and up again: every loan gets its slot back."""
    expected = slots(book_engine)
    with book_engine.begin() as connection:
        config = migrate.alembic_config(book_engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0014_field_figures")
        columns = {c["name"] for c in inspect(connection).get_columns("loans")}
        assert "loan_id" in columns and "partition_slot" not in columns
    migrate.upgrade(book_engine)
    assert slots(book_engine) == expected
    assert stray_slots(book_engine) == []  # the installments' and payments' slots too


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
        customers = {loan_id: customer for loan_id, (customer, _) in slots(book_engine).items()}
        assert rows and all(partition_of(customers[loan_id], 4) == 2 for loan_id in rows)
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


def test_schema_matches_the_models_for_loans(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from doorstep.store.models import Base

    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert not [d for d in diff if "'loans'" in repr(d) or "partition_slot" in repr(d)]


def test_a_loan_without_its_slot_is_refused(book_engine: Engine) -> None:
    """A raw insert that forgets the slot fails (NOT NULL; on SQLite a trigger refuses
    the impossible default); through the model the slot is filled from the customer."""
    from datetime import UTC, datetime
    from datetime import date as day
    from decimal import Decimal

    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with book_engine.connect() as connection:
        loan = connection.execute(select(Loan).limit(1)).one()
    values = {
        "customer_id": loan.customer_id,
        "product": "p",
        "principal": 100,
        "annual_rate": Decimal("0.1"),
        "term_months": 1,
        "method": loan.method,
        "disbursed_on": day(2024, 1, 1),
        "first_due_on": day(2024, 2, 1),
        "penalty_rate_daily": Decimal("0.0005"),
        "schedule_source": "file",
    }
    forgetful = text(
        "INSERT INTO loans (loan_id, customer_id, product, principal, annual_rate, term_months,"
        " method, disbursed_on, first_due_on, penalty_rate_daily, schedule_source, created_at,"
        " updated_at) VALUES ('RAW1', :customer_id, 'p', 100, '0.1', 1, :method,"
        " '2024-01-01', '2024-02-01', '0.0005', 'file', :now, :now)"
    )
    with pytest.raises(DatabaseError, match="partition_slot"), transaction(book_engine) as s:
        s.execute(forgetful, {**values, "now": datetime.now(UTC)})
    with transaction(book_engine) as session:
        session.add(Loan(loan_id="ORM1", **values))
    assert slots(book_engine)["ORM1"] == (loan.customer_id, partition_slot(loan.customer_id))
