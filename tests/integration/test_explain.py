"""The hot queries and the batches' reads of one partition use an index on PostgreSQL once
the tables are big enough for the planner to care: 1,000,000 loans and their customers, a
snapshot of every loan on the latest day plus 200,000 earlier ones, and 200,000 rows in
each other big table (20,000 restructured schedules), all generated in the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.services import delinquency, scoring
from doorstep.services.lender import feedback
from doorstep.store.repositories import book, cases, figures, visits

pytestmark = [pytest.mark.db, pytest.mark.slow]
LOANS = 1_000_000  # and as many customers, one loan each
ROWS = 200_000  # each other big table
BIG = (
    "customers",
    "cases",
    "loans",
    "installments",
    "payments",
    "schedule_versions",
    "contact_points",
    "contact_attempts",
    "delinquency_snapshots",
    "outbox_events",
    "webhook_deliveries",
    "visits",
    "promises_to_pay",
    "book_figures",
    "audit_events",
    "assignments",
)
NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)
LATEST = date(2025, 6, 30)  # every loan's snapshot; 10,000 loans' on each of 20 days before

# Loans are spread over the slots like CRC32 of the customer id spreads them: a partition's
# loans lie all over the table. Rows of other tables belong to every 5th loan or customer
# (or every 50th), so that each partition holds some.
FILL = f"""
INSERT INTO customers (customer_id, name, id_number, id_number_hash, id_number_masked, gender,
                       birth_year, created_at, updated_at)
SELECT 'C' || lpad(g::text, 7, '0'), 'x', 'x', g::text, 'x', 'M', 1990, now(), now()
FROM generate_series(1, {LOANS}) g;
INSERT INTO loans (loan_id, customer_id, product, principal, annual_rate, term_months, method,
                   disbursed_on, first_due_on, penalty_rate_daily, schedule_source,
                   created_at, updated_at, partition_slot)
SELECT 'L' || lpad(g::text, 7, '0'), 'C' || lpad(g::text, 7, '0'), 'cash', 1000000, '0.12', 12,
       'equal_installment', '2024-01-01', '2024-02-01', '0.0005', 'generated', now(), now(),
       g % 1024
FROM generate_series(1, {LOANS}) g;
INSERT INTO installments (loan_id, seq, due_on, principal_due, interest_due, fee_due,
                          partition_slot)
SELECT 'L' || lpad((g / 10 * 50 + 1)::text, 7, '0'), g % 10 + 1,
       date '2024-02-01' + g % 10 * 30, 80000, 10000, 0, (g / 10 * 50 + 1) % 1024
FROM generate_series(0, {ROWS} - 1) g;
INSERT INTO payments (payment_id, loan_id, paid_on, amount, channel, partition_slot)
SELECT 'P' || lpad(g::text, 7, '0'), 'L' || lpad((g * 5 + 1)::text, 7, '0'),
       date '2024-02-01' + g % 300, 90000, 'bank', (g * 5 + 1) % 1024
FROM generate_series(0, {ROWS} - 1) g;
INSERT INTO schedule_versions (loan_id, version, effective_on, source, created_at)
SELECT 'L' || lpad((g * 50 + 1)::text, 7, '0'), 2, date '2024-06-01', 'offer', now()
FROM generate_series(0, {ROWS} / 10 - 1) g;
INSERT INTO contact_points (id, customer_id, channel, kind, value, value_hash, source,
                            observed_at, status, confidence, created_at, updated_at)
SELECT g, 'C' || lpad((g * 5)::text, 7, '0'), 'phone', 'mobile', 'x', g::text, 'x', now(),
       'valid', 0.9, now(), now()
FROM generate_series(1, {ROWS}) g;
INSERT INTO contact_attempts (contact_point_id, channel, result, attempted_at)
SELECT g, 'phone', 'no_answer', now() FROM generate_series(1, {ROWS}) g;
INSERT INTO cases (id, customer_id, state, opened_on, as_of, max_dpd, bucket, overdue_amount,
                   priority, skip_trace, version, city, district, created_at, updated_at)
SELECT g, 'C' || lpad(g::text, 7, '0'),
       (ARRAY['new','confirming','ready','scheduled','visiting','visited','closed'])[g % 7 + 1],
       date '2024-01-01' + g % 500, date '2025-06-30', g % 400, 'M' || (g % 7 + 1),
       g * 37 % 1000000, g * 7919 % 1000003, false, 1, 'city' || (g % 100), 'd' || (g % 9),
       now(), now()
FROM generate_series(1, {ROWS}) g;
INSERT INTO teams (id, name, shift_start_minute, shift_end_minute, max_visits)
SELECT g, 'team' || g, 480, 1080, 8 FROM generate_series(1, 500) g;
INSERT INTO assignments (case_id, team_id, starts_at)
SELECT g, g % 500 + 1, timestamptz '2025-01-01' FROM generate_series(1, {ROWS}) g;
INSERT INTO delinquency_snapshots (loan_id, as_of, dpd, bucket, overdue_principal,
    overdue_interest, overdue_fee, overdue_penalty, outstanding_principal, unapplied, computed_at)
SELECT 'L' || lpad(g::text, 7, '0'), date '{LATEST}', g % 90, 'M1', 1, 1, 0, 0, 1, 0, now()
FROM generate_series(1, {LOANS}) g;
INSERT INTO delinquency_snapshots (loan_id, as_of, dpd, bucket, overdue_principal,
    overdue_interest, overdue_fee, overdue_penalty, outstanding_principal, unapplied, computed_at)
SELECT 'L' || lpad((g % 10000 + 1)::text, 7, '0'), date '{LATEST}' - 1 - g / 10000, g % 90,
       'M1', 1, 1, 0, 0, 1, 0, now()
FROM generate_series(0, {ROWS} - 1) g;
INSERT INTO outbox_events (id, topic, key, payload, created_at)
SELECT 'e' || g, 'visit.verdict', g::text, '{{}}',
       timestamptz '2024-01-01' + g * interval '1 minute'
FROM generate_series(1, {ROWS}) g;
INSERT INTO webhook_endpoints (id, url, secret_encrypted, topics, active, created_at, updated_at)
VALUES (1, 'https://lender.example/hook', 'x', '[]', true, now(), now());
INSERT INTO webhook_deliveries (event_id, endpoint_id, state, attempts, next_attempt_at, created_at)
SELECT 'e' || g, 1, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'delivered' END, 1,
       timestamptz '2024-01-01' + g * interval '1 minute', now()
FROM generate_series(1, {ROWS}) g;
INSERT INTO visits (case_id, team_id, verifier_ids, state, checked_in_at, flags, position,
                    created_at, updated_at)
SELECT g, g % 500 + 1, '[]', 'submitted',
       timestamptz '2023-07-01' + g * interval '5 minutes', '[]', 'sealed', now(), now()
FROM generate_series(1, {ROWS}) g;
INSERT INTO promises_to_pay (case_id, customer_id, amount, due_on, status, paid,
                             created_at, updated_at)
SELECT g, 'C' || lpad(g::text, 7, '0'), 10000, date '2025-06-30' - g / 250,
       (ARRAY['open','kept','broken'])[g % 3 + 1], 0, now(), now()
FROM generate_series(1, {ROWS}) g;
INSERT INTO book_figures (as_of, city, bucket, loans, overdue, outstanding)
SELECT date '2025-06-30' - d, 'city' || c, 'M' || b, 10, 100, 1000
FROM generate_series(0, 399) d, generate_series(0, 99) c, generate_series(1, 5) b;
INSERT INTO audit_events (at, actor, role, action, object_type, object_id, summary,
                          prev_hash, hash)
SELECT timestamptz '2024-01-01' + g * interval '1 minute', 'system', 'admin', 'case.open',
       'case', (g % 50000)::text, '{{}}', lpad((g - 1)::text, 64, '0'), lpad(g::text, 64, '0')
FROM generate_series(1, {ROWS}) g;
"""
# The big tables' non-unique indexes, dropped before the fill and built after it from
# their own definitions: a sorted build is several times faster than index maintenance
# row by row, and gives the planner the same indexes.
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)
  AND NOT i.indisunique
"""


def fill(engine: Engine) -> None:
    """Fill the big tables in one transaction, without checking each row's foreign keys
    when allowed to (a superuser; the generated rows reference existing ones anyway),
    then vacuum and analyze them (statistics and visibility maps)."""
    with engine.begin() as connection:
        if connection.execute(text("SHOW is_superuser")).scalar_one() == "on":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        indexes = connection.execute(text(SECONDARY_INDEXES), {"tables": list(BIG)}).all()
        for name, _ in indexes:
            connection.execute(text(f"DROP INDEX {name}"))
        for statement in FILL.split(";\n"):
            if statement.strip():
                connection.execute(text(statement))
        for _, definition in indexes:
            connection.execute(text(definition))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f"VACUUM ANALYZE {', '.join(BIG)}")
        )


@pytest.fixture
def big(engine: Engine) -> Engine:
    """EXPLAIN plans are checked on PostgreSQL, the production store."""
    assert engine.dialect.name == "postgresql", "parametrize the test's engine: postgresql"
    started = time.perf_counter()
    fill(engine)
    print(f"filled in {time.perf_counter() - started:.1f}s")
    return engine


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters: the first set of an executemany) the code
    under the block runs."""
    statements: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        statements.append((statement, parameters[0] if many else parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def plans(engine: Engine, call: Callable[[Session], object]) -> list[str]:
    """Run `call` (rolled back) and return the EXPLAIN of each SELECT, UPDATE and DELETE
    it ran."""
    with Session(engine) as session, captured(engine) as statements:
        call(session)
        session.rollback()
    out = []
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                cursor.execute(f"EXPLAIN {statement}", parameters)
                out.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.close()
    assert out, "no query ran"
    return out


def seq_scans(plan: str) -> list[str]:
    return [t for t in BIG if f"Seq Scan on {t} " in f"{plan} ".replace("\n", " \n")]


def unindexed(
    engine: Engine, call: Callable[[Session], object], *, counts: bool = True
) -> list[str]:
    """The plans reading a big table sequentially, or not through any index; `counts=False`
    leaves out the plain count of a whole unfiltered table, which PostgreSQL may rightly
    read sequentially."""
    return [
        plan
        for plan in plans(engine, call)
        if (counts or "Aggregate" not in plan.splitlines()[0])
        and (seq_scans(plan) or (any(f" on {t} " in plan for t in BIG) and "Index" not in plan))
    ]


def assert_indexed(
    engine: Engine, call: Callable[[Session], object], *, counts: bool = True
) -> None:
    """No sequential scan of a big table (see `unindexed`)."""
    bad = unindexed(engine, call, counts=counts)
    assert not bad, "\n\n".join(bad)


def conn(session: Session) -> Connection:
    return session.connection()


MANAGER = Actor("m", Role.MANAGER, regions=frozenset({"city7"}))
VERIFIER = Actor("v", Role.VERIFIER, team_ids=frozenset({7}))


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_hot_queries_use_indexes(big: Engine) -> None:
    # the case list: a page and its count, for a manager's region and a verifier's teams
    f = cases.CaseFilter
    assert_indexed(big, lambda s: cases.list_cases(s, MANAGER, f(), page=3))
    assert_indexed(big, lambda s: cases.list_cases(s, VERIFIER, f(), page=1))
    assert_indexed(big, lambda s: cases.list_cases(s, SYSTEM, f(states=("ready",), city="city3")))
    assert_indexed(big, lambda s: cases.list_cases(s, SYSTEM, f(), page=2), counts=False)
    # the delinquency snapshots of an earlier day (10,000 loans; 1,200,000 rows in all)
    assert_indexed(big, lambda s: book.read_snapshots(conn(s), date(2025, 6, 25)))
    # the outbox: a worker claims due deliveries (FOR UPDATE SKIP LOCKED)
    assert_indexed(big, lambda s: feedback.claim_due(s, NOW, limit=50, lease=timedelta(seconds=60)))
    # dashboard figures of the last weeks, in the manager's cities (the repository's
    # functions as they are today: a period and the cities)
    since, until = date(2025, 6, 1), date(2025, 6, 30)
    week = (NOW - timedelta(days=7)).date()  # days the batch has not written: counted live
    assert_indexed(big, lambda s: figures.book_series(conn(s), since, until, ["city7"]))
    assert_indexed(
        big, lambda s: figures.field_figures(conn(s), week, until, None, ZoneInfo("Asia/Shanghai"))
    )
    assert_indexed(big, lambda s: figures.promise_statuses(conn(s), since, until, ["city7"]))
    assert_indexed(big, lambda s: figures.cases_by_state_and_opening(conn(s), ["city7"]))
    # a team's visits on a day: its latest check-in before a moment
    assert_indexed(big, lambda s: visits.previous_check_in(s, 7, NOW - timedelta(days=200)))
    # a day's delinquency batch, one partition of 64 (16 slots, ~15,600 loans: one read of
    # the batch's size): clearing its day, counting its slots, reading its loans, their
    # installments, schedule versions and payments, and counting its slots' loans (a
    # quarter of the book may rightly be counted by a scan: a partition of 64 is checked)
    first, last = book.slot_range(5, 64)
    day = LATEST + timedelta(days=1)
    kw: dict[str, Any] = {"waterfall": DEFAULT_WATERFALL, "buckets": DEFAULT_BUCKETS}
    assert_indexed(big, lambda s: delinquency.run_partition(s, day, 5, 64, **kw))
    assert_indexed(big, lambda s: book.slot_chunks(conn(s), first, last, 20_000))
    # the scoring batch's book of the same partition: its customers' loans, payments,
    # contacts, attempts and promises, each read through the partition's slot indexes
    assert_indexed(big, lambda s: scoring.read_partition_book(s, first, last))


def test_scale_indexes_match_the_migration(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from doorstep.store.models import Base

    names = (
        "ix_visits_checked_in_at",
        "ix_promises_due_on",
        "ix_cases_state_opened_city",
        "ix_audit_events_object",
        "ix_audit_events_at",
    )
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if any(n in repr(d) for n in names)] == []
