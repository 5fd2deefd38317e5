"""Ingest end to end on SQLite and PostgreSQL: a bad batch is rejected whole with every
problem, a good batch is applied idempotently, changes are captured, formats agree."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.exc import IntegrityError

from doorstep.domain.identity import id_check_digit
from doorstep.domain.schedule import build_schedule
from doorstep.services.conduct.personal_data import unseal_json
from doorstep.services.ingest import BatchRejected, IngestReport, ingest_files
from doorstep.store.db import transaction
from doorstep.store.models import (
    ContactPoint,
    Customer,
    ImportBatch,
    IngestChange,
    Installment,
    Loan,
    Payment,
)
from tests.factories.book import Book, make_keys, small_book

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
CIPHER, HASHER = make_keys()
DOMAIN_TABLES = ("customers", "contact_points", "loans", "installments", "payments")


# --- helpers ------------------------------------------------------------------------------


def ingest(engine: Engine, tmp_path: Path, *paths: Path) -> IngestReport:
    with transaction(engine) as session:
        return ingest_files(
            session,
            list(paths),
            zone=ZONE,
            reports_dir=tmp_path / "reports",
            cipher=CIPHER,  # type: ignore[arg-type]
            hasher=HASHER,  # type: ignore[arg-type]
        )


def reject(engine: Engine, tmp_path: Path, *paths: Path) -> BatchRejected:
    with pytest.raises(BatchRejected) as caught:
        ingest(engine, tmp_path, *paths)
    return caught.value


def _canonical(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:  # JSON stored as text (SQLite) and as JSONB (PostgreSQL) compare as documents
            return json.loads(value)
        except ValueError:
            return value
    return value


def dump(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table in the database (reflected, so none is forgotten): its row count and a
    checksum of all its values, independent of row order."""
    metadata = MetaData()
    with engine.connect() as connection:
        metadata.reflect(connection)
        tables: dict[str, tuple[int, str]] = {}
        for table in metadata.sorted_tables:
            rows = connection.execute(select(table))
            lines = sorted(
                json.dumps([_canonical(v) for v in row], sort_keys=True, default=repr)
                for row in rows
            )
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
            tables[table.name] = (len(lines), digest)
    assert set(DOMAIN_TABLES) | {"import_batches", "ingest_changes"} <= set(tables)
    return tables


def rows_of(engine: Engine, model: Any, *order: Any) -> list[Any]:
    with transaction(engine) as session:
        return list(session.scalars(select(model).order_by(*order)))


def count(engine: Engine, model: Any) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def wrong_check_digit(number: str) -> str:
    right = id_check_digit(number[:17])
    return number[:17] + ("1" if right != "1" else "2")


def broken_book() -> Book:
    """A batch with one problem on each of nine rows, in five files."""
    book = small_book(4)
    rows = book.rows
    rows["customers"][0]["id_number"] = wrong_check_digit(rows["customers"][0]["id_number"])
    rows["contacts"][1]["value"] = "138123"
    rows["loans"][1]["customer_id"] = "C9999"
    rows["loans"][2]["disbursed_on"] = "2024-02-30"
    rows["loans"][3]["principal"] = "12000.005"
    rows["payments"][0]["paid_on"] = "2024-01-05"
    rows["payments"][2]["amount"] = "-5.00"
    rows["payments"][3]["payment_id"] = "P0001"
    return book


# (file, line, column) -> words the reason must contain
BROKEN = {
    ("addresses.csv", 1, "source"): "required column is missing",
    ("customers.csv", 2, "id_number"): "check digit",
    ("contacts.csv", 3, "value"): "mobile",
    ("loans.csv", 3, "customer_id"): "unknown customer 'C9999'",
    ("loans.csv", 4, "disbursed_on"): "not a date",
    ("loans.csv", 5, "principal"): "at most 2 decimals",
    ("payments.csv", 2, "paid_on"): "before the loan was disbursed (2024-01-10)",
    ("payments.csv", 4, "amount"): "must not be negative",
    ("payments.csv", 5, "payment_id"): "duplicate key (payment_id) already on line 2",
}


def write_broken(folder: Path) -> Path:
    broken_book().write(folder)
    addresses = folder / "addresses.csv"
    pl.read_csv(addresses, infer_schema=False).drop("source").write_csv(addresses)
    return folder


def schedule_rows(engine: Engine, loan_id: str) -> list[tuple[int, date, int, int, int]]:
    return [
        (i.seq, i.due_on, i.principal_due, i.interest_due, i.fee_due)
        for i in rows_of(engine, Installment, Installment.seq)
        if i.loan_id == loan_id
    ]


def expected_schedule(
    principal: int, rate: str, term: int, method: str, first_due: date
) -> list[tuple[int, date, int, int, int]]:
    return [
        (i.seq, i.due_on, i.principal_due, i.interest_due, i.fee_due)
        for i in build_schedule(principal, Decimal(rate), term, method, first_due)
    ]


# --- a broken batch is rejected whole -------------------------------------------------------


@pytest.mark.parametrize("preloaded", [False, True], ids=["empty-db", "after-good-batch"])
def test_broken_batch_reports_every_bad_row_and_writes_nothing(
    engine: Engine, tmp_path: Path, preloaded: bool
) -> None:
    if preloaded:
        ingest(engine, tmp_path, small_book(4).write(tmp_path / "good"))
        assert count(engine, Loan) == 4
    before = dump(engine)

    exc = reject(engine, tmp_path, write_broken(tmp_path / "bad"))

    found = {(p.file, p.line, p.column): p.reason for p in exc.problems}
    assert set(found) == set(BROKEN), exc.problems
    assert len(exc.problems) == len(BROKEN)
    for place, words in BROKEN.items():
        assert words in found[place], (place, found[place])
    values = {(p.file, p.line): p.value for p in exc.problems}
    assert values[("contacts.csv", 3)] == "******"  # personal data is masked in reports
    assert values[("loans.csv", 5)] == "12000.005"
    assert values[("payments.csv", 4)] == "-5.00"

    assert exc.report_path is not None
    with Path(exc.report_path).open(encoding="utf-8", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [(r["file"], int(r["line"]), r["column"], r["value"], r["reason"]) for r in report] == [
        (p.file, p.line, p.column, p.value, p.reason) for p in exc.problems
    ]
    assert dump(engine) == before


def test_rejected_batch_with_only_row_problems_still_checks_other_files(
    engine: Engine, tmp_path: Path
) -> None:
    """Cross-file checks run even when a file of the batch has bad values of its own."""
    book = small_book(2)
    book.rows["customers"][1]["gender"] = "X"
    book.rows["payments"][1]["loan_id"] = "L0404"
    exc = reject(engine, tmp_path, book.write(tmp_path / "in"))
    assert {(p.file, p.line, p.column) for p in exc.problems} == {
        ("customers.csv", 3, "gender"),
        ("payments.csv", 3, "loan_id"),
    }
    assert count(engine, Customer) == 0


# --- idempotency ---------------------------------------------------------------------------


def test_same_files_twice_change_nothing(engine: Engine, tmp_path: Path) -> None:
    folder = small_book(5).write(tmp_path / "in")
    first = ingest(engine, tmp_path, folder)
    assert first.batch_id is not None
    assert {name: c["inserted"] for name, c in first.counts.items()} == {
        "customers": 5,
        "contact_points": 10,
        "loans": 5,
        "installments": 60,
        "payments": 5,
    }
    before = dump(engine)

    second = ingest(engine, tmp_path, folder)

    assert second.batch_id is None
    assert not second.changed
    assert {"customers", "contact_points", "loans", "payments"} <= set(second.counts)
    for name, counted in second.counts.items():
        assert (counted["inserted"], counted["updated"], counted["deleted"]) == (0, 0, 0), name
        assert counted["unchanged"] == first.counts[name]["inserted"], name
    assert dump(engine) == before
    assert count(engine, ImportBatch) == 1


# --- a later file changes some rows ----------------------------------------------------------


def test_changed_rows_are_updated_and_their_changes_kept(engine: Engine, tmp_path: Path) -> None:
    book = small_book(3)
    first = ingest(engine, tmp_path, book.write(tmp_path / "v1"))
    before = dump(engine)
    points_before = {
        (p.customer_id, p.channel): (p.observed_at, p.updated_at)
        for p in rows_of(engine, ContactPoint, ContactPoint.id)
    }

    book.rows["customers"][0]["employer"] = "新公司"
    book.rows["loans"][1]["principal"] = "9000.00"
    book.rows["contacts"][2]["observed_at"] = "2024-05-01T09:30:00+08:00"
    report = ingest(engine, tmp_path, book.write(tmp_path / "v2"))

    assert report.batch_id is not None and report.batch_id != first.batch_id
    assert {n: (c["inserted"], c["updated"]) for n, c in report.counts.items()} == {
        "customers": (0, 1),
        "contact_points": (0, 1),
        "loans": (0, 1),
        "installments": (0, 12),
        "payments": (0, 0),
    }
    after = dump(engine)
    assert after["payments"] == before["payments"]

    customers = {c.customer_id: c for c in rows_of(engine, Customer, Customer.customer_id)}
    assert customers["C0001"].employer == "新公司"
    assert customers["C0002"].employer == customers["C0003"].employer == "示例公司"
    assert customers["C0002"].updated_at == customers["C0002"].created_at
    loans = {loan.loan_id: loan for loan in rows_of(engine, Loan, Loan.loan_id)}
    assert loans["L0002"].principal == 900000
    assert loans["L0001"].updated_at == loans["L0001"].created_at
    assert schedule_rows(engine, "L0002") == expected_schedule(
        900000, "0.12", 12, "equal_installment", date(2024, 2, 10)
    )
    assert schedule_rows(engine, "L0001") == expected_schedule(
        1200000, "0.12", 12, "equal_installment", date(2024, 2, 10)
    )
    points = {(p.customer_id, p.channel): p for p in rows_of(engine, ContactPoint, ContactPoint.id)}
    assert points[("C0003", "phone")].observed_at == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)
    for place, (observed, updated) in points_before.items():
        if place != ("C0003", "phone"):
            assert (points[place].observed_at, points[place].updated_at) == (observed, updated)

    changes = rows_of(engine, IngestChange, IngestChange.id)
    assert {c.batch_id for c in changes} == {report.batch_id}
    for change in changes:  # sealed: the change log holds personal data
        change.before = unseal_json(CIPHER, change.before)
        change.after = unseal_json(CIPHER, change.after)
    by_entity: dict[str, list[IngestChange]] = {}
    for change in changes:
        by_entity.setdefault(change.entity, []).append(change)
    assert set(by_entity) == {"customers", "contact_points", "loans", "installments"}
    [customer] = by_entity["customers"]
    assert (customer.entity_key, customer.before, customer.after) == (
        "C0001",
        {"employer": "示例公司"},
        {"employer": "新公司"},
    )
    [loan] = by_entity["loans"]
    assert (loan.entity_key, loan.before, loan.after) == (
        "L0002",
        {"principal": 1200000},
        {"principal": 900000},
    )
    [point] = by_entity["contact_points"]
    assert point.entity_key.startswith("C0003/phone/mobile/")
    assert set(point.before) == set(point.after) == {"observed_at"}
    assert datetime.fromisoformat(point.before["observed_at"]) == datetime(
        2024, 1, 1, 2, tzinfo=UTC
    )
    assert datetime.fromisoformat(point.after["observed_at"]) == datetime(
        2024, 5, 1, 1, 30, tzinfo=UTC
    )
    assert sorted(c.entity_key for c in by_entity["installments"]) == sorted(
        f"L0002/{seq}" for seq in range(1, 13)
    )
    for change in by_entity["installments"]:
        assert set(change.before) == set(change.after) <= {"principal_due", "interest_due"}
        assert change.before != change.after


# --- formats, extra columns, given schedules ---------------------------------------------


def test_unknown_columns_are_kept_in_extra(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    book.rows["customers"][0]["branch"] = "上海分行"
    book.rows["loans"][1]["channel_code"] = "APP-7"
    book.rows["payments"][0]["receipt"] = "R-1"
    book.rows["contacts"][0]["wechat"] = "wx_abc"
    ingest(engine, tmp_path, book.write(tmp_path / "in"))

    customers = {c.customer_id: c.extra for c in rows_of(engine, Customer, Customer.customer_id)}
    assert customers["C0001"] == {"branch": "上海分行"}
    loans = {loan.loan_id: loan.extra for loan in rows_of(engine, Loan, Loan.loan_id)}
    assert loans["L0002"] == {"channel_code": "APP-7"}
    payments = {p.payment_id: p.extra for p in rows_of(engine, Payment, Payment.payment_id)}
    assert payments["P0001"] == {"receipt": "R-1"}
    points = {(p.customer_id, p.channel): p.extra for p in rows_of(engine, ContactPoint, "id")}
    assert points[("C0001", "phone")] == {"wechat": "wx_abc"}
    assert points[("C0001", "address")] is None

    again = ingest(engine, tmp_path, tmp_path / "in")
    assert not again.changed


def write_parquet(book: Book, folder: Path) -> Path:
    """The book as Parquet with native types: float money, dates, integers, times."""
    folder.mkdir(parents=True, exist_ok=True)
    typed: dict[str, list[pl.Expr]] = {
        "customers": [pl.col("birth_date").str.to_date()],
        "contacts": [
            pl.col("observed_at").str.to_datetime(time_zone="UTC"),
        ],
        "addresses": [  # naive wall-clock times, read in the business time zone
            pl.col("lat").cast(pl.Float64),
            pl.col("lng").cast(pl.Float64),
            pl.col("observed_at")
            .str.to_datetime(time_zone="UTC")
            .dt.convert_time_zone("Asia/Shanghai")
            .dt.replace_time_zone(None),
        ],
        "loans": [
            pl.col("principal").cast(pl.Float64),
            pl.col("annual_rate").cast(pl.Float64),
            pl.col("term_months").cast(pl.Int32),
            pl.col("disbursed_on").str.to_date(),
            pl.col("first_due_on").str.to_date(),
            pl.col("penalty_rate_daily").cast(pl.Float64),
        ],
        "payments": [pl.col("paid_on").str.to_date(), pl.col("amount").cast(pl.Float64)],
    }
    for entity, rows in book.rows.items():
        frame = pl.DataFrame(rows).with_columns(pl.all().replace("", None))
        frame.with_columns(typed[entity]).write_parquet(folder / f"{entity}.parquet")
    return folder


def test_parquet_gives_the_same_result_as_csv(engine: Engine, tmp_path: Path) -> None:
    book = small_book(3)
    book.rows["loans"][0]["principal"] = "12345.67"
    book.rows["payments"][1]["amount"] = "0.1"
    book.rows["loans"][2]["annual_rate"] = "0.0725"
    book.rows["contacts"][1]["observed_at"] = "2024-01-01T03:00:00Z"
    folder = write_parquet(book, tmp_path / "pq")
    assert pl.read_parquet(folder / "loans.parquet").schema["principal"] == pl.Float64
    assert pl.read_parquet(folder / "payments.parquet").schema["paid_on"] == pl.Date

    first = ingest(engine, tmp_path, folder)
    assert first.counts["loans"]["inserted"] == 3
    loans = {loan.loan_id: loan for loan in rows_of(engine, Loan, Loan.loan_id)}
    assert loans["L0001"].principal == 1234567
    assert loans["L0003"].annual_rate == Decimal("0.0725")
    payments = {p.payment_id: p.amount for p in rows_of(engine, Payment, Payment.payment_id)}
    assert payments["P0002"] == 10
    before = dump(engine)

    same = ingest(engine, tmp_path, book.write(tmp_path / "csv"))

    assert not same.changed, same.counts
    assert dump(engine) == before


def test_parquet_problems_name_the_row(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    book.rows["payments"][1]["amount"] = "10.005"
    exc = reject(engine, tmp_path, write_parquet(book, tmp_path / "pq"))
    # Parquet has no header line: row 1 is the first row.
    assert [(p.file, p.line, p.column, p.value) for p in exc.problems] == [
        ("payments.parquet", 2, "amount", "10.005")
    ]
    assert count(engine, Customer) == 0


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_nul_in_any_text_rejects_the_batch_naming_row_and_field(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    """PostgreSQL's text and JSON cannot hold U+0000: a NUL in a column the contract knows
    or in an extra one (kept as JSON) rejects the batch, row and field named, the value
    shown with the NUL written out, before anything is written."""
    book = small_book(2)
    book.rows["customers"][1]["employer"] = "某某\x00公司"
    book.rows["loans"][0]["channel_code"] = "APP\x007"
    folder = tmp_path / kind
    written = book.write(folder) if kind == "csv" else write_parquet(book, folder)
    exc = reject(engine, tmp_path, written)
    first = 2 if kind == "csv" else 1  # a CSV's first row is its line 2
    found = {(p.file, p.line, p.column): p for p in exc.problems}
    assert set(found) == {
        (f"customers.{kind}", first + 1, "employer"),
        (f"loans.{kind}", first, "channel_code"),
    }, exc.problems
    assert all("NUL" in p.reason and "\x00" not in p.value for p in exc.problems)
    assert found[(f"loans.{kind}", first, "channel_code")].value == r"APP\x007"
    assert count(engine, Customer) == 0


def test_nul_in_a_column_name_rejects_the_file(engine: Engine, tmp_path: Path) -> None:
    book = small_book(1)
    book.rows["contacts"][0]["we\x00chat"] = "wx_abc"
    exc = reject(engine, tmp_path, book.write(tmp_path / "in"))
    assert [(p.file, p.line, p.column) for p in exc.problems] == [
        ("contacts.csv", 1, r"we\x00chat")
    ]
    assert "NUL" in exc.problems[0].reason
    assert count(engine, Customer) == 0


def installments_for(
    loan_id: str, principal_parts: list[str], seqs: list[int]
) -> list[dict[str, str]]:
    return [
        {
            "loan_id": loan_id,
            "seq": str(seq),
            "due_on": f"{2024 + (seq + 1) // 13}-{(seq) % 12 + 1:02d}-10",
            "principal_due": part,
            "interest_due": "100.00",
            "fee_due": "5.00" if seq == 1 else "",
        }
        for seq, part in zip(seqs, principal_parts, strict=True)
    ]


def test_given_installments_replace_the_generated_schedule(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    book.rows["installments"] = installments_for("L0001", ["1000.00"] * 12, list(range(1, 13)))
    ingest(engine, tmp_path, book.write(tmp_path / "in"))

    given = schedule_rows(engine, "L0001")
    assert [(seq, p, i, f) for seq, _, p, i, f in given] == [
        (seq, 100000, 10000, 500 if seq == 1 else 0) for seq in range(1, 13)
    ]
    assert [row["due_on"] for row in book.rows["installments"]] == [
        str(due) for _, due, *_ in given
    ]
    assert schedule_rows(engine, "L0002") == expected_schedule(
        1200000, "0.12", 12, "equal_installment", date(2024, 2, 10)
    )
    sources = {loan.loan_id: loan.schedule_source for loan in rows_of(engine, Loan, "loan_id")}
    assert sources == {"L0001": "file", "L0002": "generated"}
    assert not ingest(engine, tmp_path, tmp_path / "in").changed


def test_bad_given_schedules_are_rejected_naming_the_loan(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    short = ["1000.00"] * 11 + ["999.99"]
    gap = [*range(1, 12), 13]
    book.rows["installments"] = installments_for("L0001", short, list(range(1, 13)))
    book.rows["installments"] += installments_for("L0002", ["1000.00"] * 12, gap)

    exc = reject(engine, tmp_path, book.write(tmp_path / "in"))

    assert {(p.file, p.column) for p in exc.problems} == {
        ("installments.csv", "principal_due"),
        ("installments.csv", "seq"),
    }
    reasons = {p.column: p.reason for p in exc.problems}
    assert "L0001" in reasons["principal_due"]
    assert "1199999" in reasons["principal_due"] and "1200000" in reasons["principal_due"]
    assert "L0002" in reasons["seq"]
    assert dump(engine)["loans"][0] == 0


def test_child_files_may_reference_parents_already_stored(engine: Engine, tmp_path: Path) -> None:
    ingest(engine, tmp_path, small_book(2).write(tmp_path / "v1"))
    later = Book(
        {
            "payments": [
                {
                    "payment_id": "P0101",
                    "loan_id": "L0002",
                    "paid_on": "2024-03-10",
                    "amount": "1066.19",
                    "channel": "bank",
                }
            ],
            "contacts": [
                {
                    "customer_id": "C0001",
                    "kind": "emergency",
                    "value": "13900001111",
                    "relation": "spouse",
                    "source": "call",
                    "observed_at": "2024-04-01T12:00:00+08:00",
                }
            ],
            "installments": installments_for("L0001", ["1000.00"] * 12, list(range(1, 13))),
        }
    )
    report = ingest(engine, tmp_path, later.write(tmp_path / "v2"))
    assert report.counts["payments"]["inserted"] == 1
    assert report.counts["contact_points"]["inserted"] == 1
    assert report.counts["installments"]["updated"] == 12
    assert [p.amount for p in rows_of(engine, Payment, Payment.payment_id)] == [
        106619,
        106619,
        106619,
    ]

    bad = Book(
        {
            "payments": [
                {
                    "payment_id": "P0102",
                    "loan_id": "L0001",
                    "paid_on": "2023-12-31",
                    "amount": "1.00",
                    "channel": "bank",
                },
                {
                    "payment_id": "P0103",
                    "loan_id": "L0999",
                    "paid_on": "2024-03-10",
                    "amount": "1.00",
                    "channel": "bank",
                },
            ],
            "installments": installments_for("L0002", ["1000.00"] * 11, list(range(1, 12))),
        }
    )
    before = dump(engine)
    exc = reject(engine, tmp_path, bad.write(tmp_path / "v3"))
    assert {(p.file, p.line, p.column) for p in exc.problems} == {
        ("payments.csv", 2, "paid_on"),
        ("payments.csv", 3, "loan_id"),
        ("installments.csv", 2, "seq"),
        ("installments.csv", 2, "principal_due"),
    }
    assert dump(engine) == before


# --- stored values ----------------------------------------------------------------------------


def test_generated_schedules_and_money_are_exact(engine: Engine, tmp_path: Path) -> None:
    book = small_book(3)
    book.rows["loans"][0].update(principal="5000.01", annual_rate="0.0999", term_months="7")
    book.rows["loans"][1].update(method="equal_principal", principal="30000.00", term_months="24")
    book.rows["loans"][2].update(method="interest_first", first_due_on="2024-01-31")
    ingest(engine, tmp_path, book.write(tmp_path / "in"))

    loans = rows_of(engine, Loan, Loan.loan_id)
    assert [loan.principal for loan in loans] == [500001, 3000000, 1200000]
    for loan, row in zip(loans, book.rows["loans"], strict=True):
        assert type(loan.principal) is int
        assert loan.annual_rate == Decimal(row["annual_rate"])
        assert loan.penalty_rate_daily == Decimal("0.0005")
        assert schedule_rows(engine, loan.loan_id) == expected_schedule(
            loan.principal, row["annual_rate"], loan.term_months, loan.method, loan.first_due_on
        )
    for item in rows_of(engine, Installment, Installment.loan_id, Installment.seq):
        assert all(type(v) is int for v in (item.principal_due, item.interest_due, item.fee_due))
    for payment in rows_of(engine, Payment, Payment.payment_id):
        assert type(payment.amount) is int
        assert payment.amount == 106619


def test_observed_at_is_aware_utc(engine: Engine, tmp_path: Path) -> None:
    book = small_book(3)
    book.rows["contacts"][0]["observed_at"] = "2024-03-01T10:00:00"  # naive: Asia/Shanghai
    book.rows["contacts"][1]["observed_at"] = "2024-03-01T10:00:00Z"
    book.rows["contacts"][2]["observed_at"] = "2024-03-01 23:30:00.250000+08:00"
    book.rows["addresses"][0]["observed_at"] = "2024-03-01"
    ingest(engine, tmp_path, book.write(tmp_path / "in"))

    points = {(p.customer_id, p.channel): p for p in rows_of(engine, ContactPoint, "id")}
    expected = {
        ("C0001", "phone"): datetime(2024, 3, 1, 2, tzinfo=UTC),
        ("C0002", "phone"): datetime(2024, 3, 1, 10, tzinfo=UTC),
        ("C0003", "phone"): datetime(2024, 3, 1, 15, 30, 0, 250000, tzinfo=UTC),
        ("C0001", "address"): datetime(2024, 2, 29, 16, tzinfo=UTC),
        ("C0002", "address"): datetime(2024, 1, 1, 2, tzinfo=UTC),
    }
    for place, instant in expected.items():
        observed = points[place].observed_at
        assert observed.utcoffset() is not None and observed.utcoffset().total_seconds() == 0
        assert observed == instant, place


def test_loans_sent_again_without_their_schedule_keep_it(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    book.rows["installments"] = installments_for("L0001", ["1000.00"] * 12, list(range(1, 13)))
    ingest(engine, tmp_path, book.write(tmp_path / "v1"))
    before = dump(engine)
    given = schedule_rows(engine, "L0001")

    again = ingest(engine, tmp_path, book.write(tmp_path / "v2", entities=["loans"]))

    assert not again.changed, again.counts
    assert dump(engine) == before
    assert schedule_rows(engine, "L0001") == given


def test_shorter_term_regenerates_and_trims_the_schedule(engine: Engine, tmp_path: Path) -> None:
    book = small_book(2)
    ingest(engine, tmp_path, book.write(tmp_path / "v1"))
    book.rows["loans"][0]["term_months"] = "6"

    report = ingest(engine, tmp_path, book.write(tmp_path / "v2"))

    assert report.counts["loans"]["updated"] == 1
    assert report.counts["installments"]["deleted"] == 6
    assert schedule_rows(engine, "L0001") == expected_schedule(
        1200000, "0.12", 6, "equal_installment", date(2024, 2, 10)
    )
    assert len(schedule_rows(engine, "L0002")) == 12


def test_blank_status_keeps_the_stored_status(engine: Engine, tmp_path: Path) -> None:
    book = small_book(1)
    book.rows["contacts"][0]["status"] = "confirmed"
    ingest(engine, tmp_path, book.write(tmp_path / "v1"))
    [phone] = [p for p in rows_of(engine, ContactPoint, "id") if p.channel == "phone"]
    assert phone.status == "confirmed"

    del book.rows["contacts"][0]["status"]
    assert not ingest(engine, tmp_path, book.write(tmp_path / "v2")).changed

    book.rows["contacts"][0]["status"] = "invalid"
    report = ingest(engine, tmp_path, book.write(tmp_path / "v3"))
    [change] = rows_of(engine, IngestChange, IngestChange.id)
    opened = unseal_json(CIPHER, change.before), unseal_json(CIPHER, change.after)
    assert (change.batch_id, *opened) == (
        report.batch_id,
        {"status": "confirmed"},
        {"status": "invalid"},
    )


def stray_slots(engine: Engine) -> list[tuple[str, str]]:
    """(table, loan id) of every installment or payment whose slot is not its loan's."""
    found = []
    with engine.connect() as connection:
        for model in (Installment, Payment):
            rows = connection.execute(
                select(model.loan_id)
                .join(Loan, Loan.loan_id == model.loan_id)
                .where(model.partition_slot != Loan.partition_slot)
            ).scalars()
            found += [(model.__tablename__, loan_id) for loan_id in rows]
    return found


def test_installments_and_payments_carry_their_loans_slot(engine: Engine, tmp_path: Path) -> None:
    book = small_book(3)
    ingest(engine, tmp_path, book.write(tmp_path / "v1"))
    assert count(engine, Installment) == 36 and count(engine, Payment) == 3
    assert stray_slots(engine) == []

    # a loan moves to another customer (so, nearly always, to another slot): its stored
    # schedule and payments move with it, and a later payments-only batch finds its slot
    book.rows["loans"][1]["customer_id"] = "C0003"
    ingest(engine, tmp_path, book.write(tmp_path / "v2"))
    later = Book(
        {
            "payments": [
                {
                    "payment_id": "P0101",
                    "loan_id": "L0002",
                    "paid_on": "2024-03-10",
                    "amount": "10.00",
                    "channel": "bank",
                }
            ]
        }
    )
    ingest(engine, tmp_path, later.write(tmp_path / "v3"))
    with engine.connect() as connection:
        slots = dict(connection.execute(select(Loan.loan_id, Loan.partition_slot)).all())
    assert slots["L0002"] == slots["L0003"]
    assert stray_slots(engine) == []

    payment = {"loan_id": "L0001", "paid_on": date(2024, 3, 11), "amount": 1, "channel": "bank"}
    with transaction(engine) as session:  # one written outside the ingest
        session.add(Payment(payment_id="P0102", **payment))
    assert stray_slots(engine) == []
    other = (slots["L0001"] + 1) % 1024  # another slot than its loan's: refused
    refused = r"fk_payments_loan_id_loans|FOREIGN KEY constraint"
    with pytest.raises(IntegrityError, match=refused), transaction(engine) as session:
        session.add(Payment(payment_id="P0103", partition_slot=other, **payment))
