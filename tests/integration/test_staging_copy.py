"""The bulk path into the stage (CSV through COPY on PostgreSQL, executemany on SQLite)
stores exactly what a typed insert stores, and a big insert on PostgreSQL, which drops the
target's keys and indexes and builds them again, leaves the same rows and the same schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from doorstep.services.ingest import ingest_files
from doorstep.store.db import transaction
from doorstep.store.models import Customer, Installment, Loan
from doorstep.store.repositories import staging
from doorstep.store.types import ExactDecimal, JSONDocument, UTCDateTime
from tests.factories.book import Book, make_keys, small_book

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
CIPHER, HASHER = make_keys()

TEXTS = [
    "",
    None,
    "plain",
    "a,b,c",
    'say "hi"',
    '"',
    "two\nlines",
    "crlf\r\nend",
    "\\.",
    "\\N",
    "back\\slash",
    "NULL",
    "tab\there",
    " padded ",
    "中文，全角",
    "emoji 🎉",
]
DECIMALS = ["0.12", "0.120000", "1E-1", "0", "0.000", "5E+1", "100", "0.00000001", None]
INSTANTS = [
    datetime(2024, 3, 1, 10, 0, tzinfo=ZONE),
    datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 16, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
    None,
]
FLOATS = [39.912345678, -116.1, 1 / 3, 1e-7, 0.0, None]


def _probe(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("label", String(200), nullable=True),
        Column("rate", ExactDecimal(12, 8), nullable=True),
        Column("day", Date, nullable=True),
        Column("at", UTCDateTime, nullable=True),
        Column("ratio", Float, nullable=True),
        Column("fen", BigInteger, nullable=True),
        Column("doc", JSONDocument, nullable=True),
    )


def _rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "label": TEXTS[n % len(TEXTS)],
            "rate": DECIMALS[n % len(DECIMALS)],
            "day": date(2024, 1, 1) + timedelta(days=n) if n % 5 else None,
            "at": INSTANTS[n % len(INSTANTS)],
            "ratio": FLOATS[n % len(FLOATS)],
            "fen": 9_000_000_000_000_000 + n if n % 3 else None,
            "doc": json.dumps({"note": TEXTS[n % len(TEXTS)], "n": n}) if n % 4 else None,
        }
        for n in range(count)
    ]


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "label": pl.Utf8,
            "rate": pl.Utf8,
            "day": pl.Date,
            "at": pl.Datetime("us", "UTC"),
            "ratio": pl.Float64,
            "fen": pl.Int64,
            "doc": pl.Utf8,
        },
    )


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the ORM would write it: Decimal and JSON values."""
    return {
        **row,
        "rate": None if row["rate"] is None else Decimal(row["rate"]),
        "doc": None if row["doc"] is None else json.loads(row["doc"]),
    }


def _read(connection: Connection, table: Table) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]


def test_bulk_insert_stores_what_a_typed_insert_stores(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "COPY_CHUNK_ROWS", 7)  # several chunks, cut mid-pattern
    bulk, typed = _probe("probe_bulk"), _probe("probe_typed")
    rows = _rows(50)
    with engine.begin() as connection:
        bulk.create(connection)
        typed.create(connection)
        staging.bulk_insert(connection, bulk, _frame(rows))
        connection.execute(insert(typed), [_typed(row) for row in rows])

        stored = _read(connection, bulk)
        assert stored == _read(connection, typed)
        labels = [row[1] for row in stored]
        assert labels == [row["label"] for row in rows]  # "" stays "", None stays NULL
        assert "" in labels and None in labels
        instants = [row[4] for row in stored]
        assert instants == [row["at"] for row in rows]
        assert all(i is None or i.tzinfo is not None for i in instants)
        assert [row[5] for row in stored] == [row["ratio"] for row in rows]  # floats exact


def test_decimals_are_stored_in_their_canonical_text(engine: Engine) -> None:
    """SQLite keeps decimals as text: the same canonical text as `ExactDecimal` writes."""
    table = _probe("probe_decimals")
    rows = _rows(len(DECIMALS))
    with engine.begin() as connection:
        table.create(connection)
        staging.bulk_insert(connection, table, _frame(rows))
        stored = connection.execute(
            text("SELECT id, CAST(rate AS TEXT) FROM probe_decimals ORDER BY id")
        ).all()
    canonical = {
        None: None,
        "0.12": "0.12",
        "0.120000": "0.12",
        "1E-1": "0.1",
        "0": "0",
        "0.000": "0",
        "5E+1": "50",
        "100": "100",
        "0.00000001": "0.00000001",
    }
    for (n, value), row in zip(stored, rows, strict=True):
        assert n == row["id"]
        if engine.dialect.name == "sqlite":
            assert value == canonical[row["rate"]]
        elif row["rate"] is not None:  # NUMERIC(12, 8) pads to its scale
            assert Decimal(value) == Decimal(row["rate"])


def _ingest(engine: Engine, tmp_path: Path, folder: Path) -> dict[str, dict[str, int]]:
    with transaction(engine) as session:
        report = ingest_files(
            session,
            [folder],
            zone=ZONE,
            reports_dir=tmp_path / "reports",
            cipher=CIPHER,  # type: ignore[arg-type]
            hasher=HASHER,  # type: ignore[arg-type]
        )
    return report.counts


def _awkward_book() -> Book:
    book = small_book(6)
    names = ['Zhang, "San"', "two\nlines", "back\\slash", "\\.", "王五\\N", "a\tb;c"]
    for row, name in zip(book.rows["customers"], names, strict=True):
        row["name"] = name
        row["nickname"] = name  # an unknown column: kept in `extra` as JSON
    book.rows["customers"][0]["employer"] = ""  # blank: stored as NULL, not ""
    book.rows["loans"][0]["annual_rate"] = "0.120000"
    book.rows["loans"][1]["annual_rate"] = "1E-1"
    book.rows["loans"][2]["penalty_rate_daily"] = "0.00050"
    book.rows["contacts"][0]["observed_at"] = "2024-03-01T10:00:00.123456"
    book.rows["contacts"][1]["relation"] = '母亲 "mom", 1'
    return book


def test_awkward_text_goes_through_ingest_unchanged(engine: Engine, tmp_path: Path) -> None:
    book = _awkward_book()
    _ingest(engine, tmp_path, book.write(tmp_path / "in"))
    with engine.connect() as connection:
        customers = connection.execute(
            select(Customer.name, Customer.employer, Customer.extra).order_by(Customer.customer_id)
        ).all()
        rates = connection.execute(
            select(Loan.annual_rate, Loan.penalty_rate_daily).order_by(Loan.loan_id)
        ).all()
    expected = [row["name"] for row in book.rows["customers"]]
    assert [c.name for c in customers] == expected
    assert [c.extra for c in customers] == [{"nickname": name} for name in expected]
    assert [c.employer for c in customers] == [None] + ["示例公司"] * 5
    assert rates[0] == (Decimal("0.12"), Decimal("0.0005"))
    assert rates[1] == (Decimal("0.1"), Decimal("0.0005"))
    assert rates[2] == (Decimal("0.12"), Decimal("0.0005"))


def _contents(engine: Engine) -> dict[str, list[str]]:
    """The domain tables' rows, without wall-clock columns, ciphertext and surrogate ids."""
    skip = {"created_at", "updated_at", "id", "id_number", "value", "position"}
    metadata = MetaData()
    with engine.connect() as connection:
        metadata.reflect(connection)
        return {
            name: sorted(
                json.dumps({k: v for k, v in row.items() if k not in skip}, default=repr)
                for row in connection.execute(select(metadata.tables[name])).mappings()
            )
            for name in ("customers", "contact_points", "loans", "installments", "payments")
        }


SCHEMA = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
ORDER BY 1, 2, 3"""


ON_POSTGRESQL = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
"""Copying straight in and bulk inserts are PostgreSQL's paths only."""


@pytest.fixture
def postgres(engine: Engine) -> Engine:
    assert engine.dialect.name == "postgresql", "mark the test ON_POSTGRESQL"
    return engine


def _clear(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("payments", "installments", "contact_points", "loans", "customers"):
            connection.execute(text(f"DELETE FROM {table}"))


@pytest.mark.parametrize(
    ("straight", "bulk"),
    [(False, True), (True, False), (True, True)],
    ids=["stage-bulk", "straight", "straight-bulk"],
)
@ON_POSTGRESQL
def test_postgresql_fast_paths_give_the_same_rows_and_schema(
    postgres: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, straight: bool, bulk: bool
) -> None:
    """Against the stage and row-by-row checks: copying straight into empty tables, and
    dropping keys and indexes around big inserts (forced here on a small book)."""
    engine = postgres
    with engine.connect() as connection:
        schema_before = connection.execute(text(SCHEMA)).all()
    book = _awkward_book()
    book.rows["installments"] = [
        {
            "loan_id": "L0001",
            "seq": str(seq),
            "due_on": f"{2024 + seq // 12}-{seq % 12 + 1:02d}-10",
            "principal_due": "1000.00",
            "interest_due": "10.00",
        }
        for seq in range(1, 13)
    ]
    versions = [book.write(tmp_path / "v1")]
    book.rows["loans"][1]["term_months"] = "6"  # trims a schedule, regenerates it
    book.rows["customers"][2]["name"] = "改名"
    versions.append(book.write(tmp_path / "v2"))
    with monkeypatch.context() as patched:
        patched.setattr(staging, "copies_straight", lambda connection, target: False)
        counts = [_ingest(engine, tmp_path, folder) for folder in versions]
    expected = _contents(engine)
    _clear(engine)

    if not straight:
        monkeypatch.setattr(staging, "copies_straight", lambda connection, target: False)
    if bulk:
        monkeypatch.setattr(staging, "BULK_INSERT_ROWS", 0)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    first = _ingest(engine, tmp_path, versions[0])  # into empty tables
    staged = any("stage_installments" in s for s in statements)  # COPY itself is not seen
    assert [first, _ingest(engine, tmp_path, versions[1])] == counts

    assert staged != straight
    assert _contents(engine) == expected
    with engine.connect() as connection:
        assert connection.execute(text(SCHEMA)).all() == schema_before
    rebuilt = {s.split(" ADD CONSTRAINT ")[-1].split()[0] for s in statements if "ADD" in s}
    if bulk:
        assert {"pk_installments", "fk_installments_loan_id_loans", "pk_payments"} <= rebuilt
        assert any(s.startswith("CREATE INDEX ix_payments_loan_id") for s in statements)
    else:
        assert not rebuilt


def _upsert(engine: Engine, target: Table, frame: pl.DataFrame, key: list[str]) -> None:
    with engine.begin() as connection:
        stage = staging.create_stage(connection, target, frame.columns[:-1])
        staging.bulk_insert(connection, stage, frame)
        staging.index_stage(connection, stage, key, frame.height)
        compare = [c for c in frame.columns[:-1] if c not in key]
        staging.upsert_from_stage(connection, target, stage, key=key, compare=compare)


@ON_POSTGRESQL
def test_a_failed_bulk_insert_keeps_the_keys(
    postgres: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row the foreign key refuses fails the insert as a row-by-row check would, and
    the rollback brings back everything the bulk path dropped."""
    engine = postgres
    _ingest(engine, tmp_path, small_book(1).write(tmp_path / "in"))
    with engine.connect() as connection:
        schema_before = connection.execute(text(SCHEMA)).all()
    monkeypatch.setattr(staging, "BULK_INSERT_ROWS", 0)
    target = cast(Table, Installment.__table__)
    rows = 30  # more than the table holds: the keys, the index and the foreign key go
    orphans = pl.DataFrame(
        {
            "loan_id": ["L9999"] * rows,
            "seq": range(1, rows + 1),
            "due_on": [date(2024, 2, 10)] * rows,
            "principal_due": [1] * rows,
            "interest_due": [0] * rows,
            "fee_due": [0] * rows,
            "partition_slot": [0] * rows,
            staging.LINE: range(2, rows + 2),
        }
    )
    with pytest.raises(IntegrityError, match="fk_installments_loan_id_loans") as caught:
        _upsert(engine, target, orphans, key=["loan_id", "seq"])
    assert str(caught.value.statement).startswith("ALTER TABLE")  # the key added back
    with engine.connect() as connection:
        assert connection.execute(text(SCHEMA)).all() == schema_before
        assert connection.execute(select(Installment.loan_id).distinct()).scalars().all() == [
            "L0001"
        ]
