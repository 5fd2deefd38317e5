"""Ingest checks of who and when, on SQLite and PostgreSQL: a national ID the lender sends
under a second customer number is flagged (report row, link, no merge) by its keyed
hash; a payment dated after today (business date) is refused naming its row and field."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from doorstep.domain.identity import id_check_digit
from doorstep.domain.ports import FixedClock
from doorstep.services.ingest import BatchRejected, IngestReport, ingest_files
from doorstep.store.db import transaction
from doorstep.store.models import Case, Customer, IdentityLink, Loan, Payment
from tests.factories.book import Book, make_keys, national_id, small_book
from tests.factories.web import sign_in
from tests.factories.world import World

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
KEYS = make_keys()
# 2024-06-01 17:30 UTC is already 2024-06-02 01:30 in Shanghai: the business date is the 2nd
LATE_EVENING_UTC = FixedClock(datetime(2024, 6, 1, 17, 30, tzinfo=UTC))


def ingest(
    engine: Engine,
    tmp_path: Path,
    folder: Path,
    *,
    keys: tuple[object, object] = KEYS,
    clock: FixedClock | None = None,
    future_days: int = 0,
) -> IngestReport:
    cipher, hasher = keys
    with transaction(engine) as session:
        return ingest_files(
            session,
            [folder],
            zone=ZONE,
            reports_dir=tmp_path / "reports",
            cipher=cipher,  # type: ignore[arg-type]
            hasher=hasher,  # type: ignore[arg-type]
            clock=clock,
            payment_future_days=future_days,
        )


def customer_row(customer_id: str, id_number: str) -> dict[str, str]:
    return {
        "customer_id": customer_id,
        "name": "同名客户",
        "id_number": id_number,
        "gender": "M" if int(id_number[16]) % 2 else "F",
        "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "employer": "",
    }


def id_ending_in_x() -> str:
    """A valid national ID whose check digit is X (the one letter an ID may hold)."""
    for seq in range(1, 1000, 2):
        first17 = f"11010519900307{seq:03d}"
        if id_check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no such ID")


def links(engine: Engine) -> list[tuple[str, str, str, int | None]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(
                IdentityLink.customer_id,
                IdentityLink.other_customer_id,
                IdentityLink.file,
                IdentityLink.line,
            ).order_by(IdentityLink.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_an_id_under_a_second_customer_number_is_flagged_linked_and_not_merged(
    engine: Engine, tmp_path: Path
) -> None:
    book = small_book(3)
    shared = id_ending_in_x()
    book.rows["customers"][1] = customer_row("C0002", shared)
    ingest(engine, tmp_path, book.write(tmp_path / "first"))
    later = Book({"customers": [customer_row("C0009", national_id(seq="777"))]})
    # the same ID, with its check letter in lower case: the hash is of the normalised ID
    later.rows["customers"].append(customer_row("C0010", shared.lower()))
    report = ingest(engine, tmp_path, later.write(tmp_path / "second"))

    [flag] = report.flags
    assert (flag.file, flag.line, flag.customer_id, flag.other_customer_id) == (
        "customers.csv",
        3,
        "C0010",
        "C0002",
    )
    assert flag.value == shared[:6] + "********" + shared[-4:]  # masked, never clear
    assert report.flags_path is not None
    with report.flags_path.open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["file"], row["line"], row["customer_id"], row["other_customer_id"]) == (
        "customers.csv",
        "3",
        "C0010",
        "C0002",
    )
    assert row["value"] == flag.value and shared not in handle.name
    assert "C0002" in row["reason"] and "not merged" in row["reason"]
    assert links(engine) == [("C0002", "C0010", "customers.csv", 3)]
    with transaction(engine) as session:  # both customers stay, each their own
        assert session.scalar(select(func.count()).select_from(Customer)) == 5
        stored = session.get_one(Customer, "C0010")
        assert shared not in stored.id_number  # still encrypted at rest

    again = ingest(engine, tmp_path, later.write(tmp_path / "again"))
    assert again.flags == [] and again.flags_path is None  # known pair: nothing new
    assert len(links(engine)) == 1


def test_two_rows_of_one_file_with_one_id_are_flagged_on_the_later_row(
    engine: Engine, tmp_path: Path
) -> None:
    book = small_book(4)
    book.rows["customers"][3] = customer_row("C0004", book.rows["customers"][0]["id_number"])
    report = ingest(engine, tmp_path, book.write(tmp_path / "in"))
    assert [(f.line, f.customer_id, f.other_customer_id, f.other_line) for f in report.flags] == [
        (5, "C0004", "C0001", 2)
    ]
    assert "line 2" in report.flags[0].reason
    assert links(engine) == [("C0001", "C0004", "customers.csv", 5)]
    with transaction(engine) as session:  # applied whole: a flag is not a refusal
        assert session.scalar(select(func.count()).select_from(Loan)) == 4


def test_a_customer_whose_new_id_frees_the_old_one_is_not_flagged(
    engine: Engine, tmp_path: Path
) -> None:
    """The batch is compared with the stored customers as they will be after it."""
    book = small_book(2)
    ingest(engine, tmp_path, book.write(tmp_path / "first"))
    old = book.rows["customers"][0]["id_number"]
    moved = Book(
        {
            "customers": [
                customer_row("C0001", national_id(seq="901")),  # corrected ID
                customer_row("C0003", old),  # its old one, now another customer's
            ]
        }
    )
    assert ingest(engine, tmp_path, moved.write(tmp_path / "second")).flags == []
    assert links(engine) == []


def test_a_manager_sees_the_link_on_the_case_and_a_verifier_does_not(
    engine: Engine, world: World, app: FastAPI, tmp_path: Path
) -> None:
    with transaction(engine) as session:
        customer = session.scalars(
            select(Case.customer_id).where(Case.id == world.assigned_case)
        ).one()
    index = int(customer[1:]) - 1
    book = Book({"customers": [customer_row("C0099", world.id_numbers[index])]})
    report = ingest(
        engine, tmp_path, book.write(tmp_path / "dup"), keys=(world.cipher, world.hasher)
    )
    assert [f.other_customer_id for f in report.flags] == [customer]

    with TestClient(app) as manager:
        sign_in(manager, "manager")
        page = manager.get(f"/cases/{world.assigned_case}")
    assert page.status_code == 200
    assert 'id="same-id"' in page.text and 'data-customer="C0099"' in page.text
    assert "同一身份证号" in page.text
    with TestClient(app) as verifier:
        sign_in(verifier, "verifier")
        seen = verifier.get(f"/cases/{world.assigned_case}")
    assert seen.status_code == 200 and "C0099" not in seen.text


# --- payments dated in the future -----------------------------------------------------------


def payments_book(*days: str) -> Book:
    book = small_book(len(days))
    for row, day in zip(book.rows["payments"], days, strict=True):
        row["paid_on"] = day
    return book


def test_a_payment_dated_after_today_is_refused_naming_row_and_field(
    engine: Engine, tmp_path: Path
) -> None:
    # today in Shanghai is the 2nd, though it is still the 1st in UTC
    book = payments_book("2024-06-02", "2024-06-18", "2024-06-03")
    with pytest.raises(BatchRejected) as caught:
        ingest(engine, tmp_path, book.write(tmp_path / "in"), clock=LATE_EVENING_UTC)
    problems = [(p.file, p.line, p.column, p.value) for p in caught.value.problems]
    assert problems == [
        ("payments.csv", 3, "paid_on", "2024-06-18"),
        ("payments.csv", 4, "paid_on", "2024-06-03"),
    ]
    assert "future" in caught.value.problems[0].reason
    assert "2024-06-02" in caught.value.problems[0].reason
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_tolerance_lets_tomorrow_in_and_no_later(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BatchRejected) as caught:
        ingest(
            engine,
            tmp_path,
            payments_book("2024-06-03", "2024-06-04").write(tmp_path / "late"),
            clock=LATE_EVENING_UTC,
            future_days=1,
        )
    assert [(p.line, p.value) for p in caught.value.problems] == [(3, "2024-06-04")]
    report = ingest(
        engine,
        tmp_path,
        payments_book("2024-06-03", "2024-06-02").write(tmp_path / "ok"),
        clock=LATE_EVENING_UTC,
        future_days=1,
    )
    assert report.counts["payments"]["inserted"] == 2
