"""The demo lender book: deterministic, valid against the ingest contracts, and with a
realistic overdue share whose causes leave traces in the payment history."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from itertools import pairwise
from pathlib import Path

import pytest

from doorstep.demo.generate import DemoSummary, generate_book
from doorstep.domain.calendar import add_months
from doorstep.domain.delinquency import Payment, Snapshot, snapshot
from doorstep.domain.money import parse_yuan, rate_to_units
from doorstep.domain.schedule import Installment, build_schedule

AS_OF = date(2025, 3, 31)  # a month end: first due dates clamp in February
CUSTOMERS = 2_000
MONEY = re.compile(r"^[0-9]+\.[0-9]{2}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}$")
SOURCES = {"application", "core_banking", "third_party", "call", "field"}
STATUSES = {"", "unverified", "confirmed", "invalid"}
OVERDUE = {"sudden_stop", "slow_decline", "never_paid", "intermittent", "dispute"}
CURRENT = {"on_time", "prepaid", "cured"}
RELATIONS = {"spouse", "parent", "sibling", "child", "friend", "colleague"}
BUCKETS = ("M1", "M2", "M3", "M4", "M5", "M6", "M7+")


Rows = list[dict[str, str]]


@dataclass
class Loaded:
    summary: DemoSummary
    files: dict[str, Rows]
    schedules: dict[str, list[Installment]]
    payments: dict[str, list[Payment]]
    snapshots: dict[str, Snapshot]
    truth: dict[str, dict[str, str]]


def read(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    folder = tmp_path_factory.mktemp("demo")
    summary = generate_book(folder, customers=CUSTOMERS, seed=7, as_of=AS_OF)
    files = {entity: read(path) for entity, path in summary.files.items()}
    payments: dict[str, list[Payment]] = defaultdict(list)
    for row in files["payments"]:
        payments[row["loan_id"]].append(
            Payment(
                row["payment_id"], date.fromisoformat(row["paid_on"]), parse_yuan(row["amount"])
            )
        )
    schedules, snapshots = {}, {}
    for loan in files["loans"]:
        rows = build_schedule(
            parse_yuan(loan["principal"]),
            Decimal(loan["annual_rate"]),
            int(loan["term_months"]),
            loan["method"],
            date.fromisoformat(loan["first_due_on"]),
        )
        units = rate_to_units(Decimal(loan["penalty_rate_daily"]))
        schedules[loan["loan_id"]] = rows
        snapshots[loan["loan_id"]] = snapshot(rows, payments[loan["loan_id"]], units, AS_OF)
    truth = {row["loan_id"]: row for row in files["demo_truth"]}
    return Loaded(summary, files, schedules, payments, snapshots, truth)


def file_bytes(summary: DemoSummary) -> dict[str, bytes]:
    return {entity: path.read_bytes() for entity, path in summary.files.items()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    first = generate_book(
        tmp_path / "a", customers=300, seed=11, as_of=AS_OF, progress=lambda *c: calls.append(c)
    )
    again = generate_book(tmp_path / "b", customers=300, seed=11, as_of=AS_OF)
    other = generate_book(tmp_path / "c", customers=300, seed=12, as_of=AS_OF)
    assert file_bytes(first) == file_bytes(again)
    differing = [e for e, data in file_bytes(other).items() if data != file_bytes(first)[e]]
    assert sorted(differing) == sorted(first.files)
    assert ("generating demo book", 300, 300) in calls
    assert calls[-1] == ("writing demo files", 6, 6)


def test_files_headers_and_counts(book: Loaded) -> None:
    names = {entity: path.name for entity, path in book.summary.files.items()}
    assert names == {
        "customers": "customers.csv",
        "contacts": "contacts.csv",
        "addresses": "addresses.csv",
        "loans": "loans.csv",
        "payments": "payments.csv",
        "demo_truth": "demo_truth.csv",
    }
    summary, files = book.summary, book.files
    assert summary.customers == len(files["customers"]) == CUSTOMERS
    assert summary.loans == len(files["loans"]) == len(files["demo_truth"])
    assert summary.payments == len(files["payments"])
    assert summary.contacts == len(files["contacts"])
    assert summary.addresses == len(files["addresses"])
    assert 1.15 <= summary.loans / summary.customers <= 1.35
    assert list(files["addresses"][0]) == [
        "customer_id", "kind", "text", "province", "city", "district", "lat", "lng",
        "source", "observed_at", "status",
    ]  # fmt: skip


def gb11643_check(first17: str) -> str:
    """The check character, computed with weights 2^(17-i) mod 11 (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@dataclass(frozen=True)
class Place:
    adcode: str  # 6 digits
    lat: float
    lng: float


def cpca_places() -> dict[tuple[str, str], Place]:
    """(city, district) -> place from cpca's table, and (city, "") for the city itself; a
    municipality's city is its province (cpca calls that level 市辖区)."""
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    rows = {fields[0]: fields for fields in (line.split(",") for line in text.splitlines()[1:])}
    places: dict[tuple[str, str], Place] = {}
    for adcode, (_, name, lng, lat) in rows.items():
        if not lat or adcode[6:] != "000000":
            continue
        parent = rows.get(adcode[:4] + "00000000", rows[adcode[:2] + "0000000000"])[1]
        if parent == "市辖区":
            parent = rows[adcode[:2] + "0000000000"][1]
        city, district = (parent, name) if adcode[4:6] != "00" else (name, "")
        places.setdefault((city, district), Place(adcode[:6], float(lat), float(lng)))
    return places


def km_between(lat: float, lng: float, place: Place) -> float:
    """Equirectangular distance: exact enough over a city."""
    return 111.0 * math.hypot(lat - place.lat, (lng - place.lng) * math.cos(math.radians(lat)))


def test_national_ids_are_valid_and_match_the_customer(book: Loaded) -> None:
    places = cpca_places()
    household = {
        a["customer_id"]: places[(a["city"], a["district"])].adcode
        for a in book.files["addresses"]
        if a["kind"] == "household"
    }
    assert len({c["customer_id"] for c in book.files["customers"]}) == CUSTOMERS
    for customer in book.files["customers"]:
        number = customer["id_number"]
        assert re.fullmatch(r"\d{17}[\dX]", number), number
        assert number[17] == gb11643_check(number[:17]), number
        assert number[:6] == household[customer["customer_id"]]
        born = date.fromisoformat(customer["birth_date"])
        assert number[6:14] == born.strftime("%Y%m%d")
        assert customer["gender"] == ("M" if int(number[16]) % 2 else "F")
        age = AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))
        assert 20 <= age <= 60
        assert re.fullmatch(r"C\d{8}", customer["customer_id"])
        assert 2 <= len(customer["name"]) <= 4


def assert_observed(text: str) -> None:
    observed = datetime.fromisoformat(text)
    assert observed.utcoffset() is not None, text
    assert observed.date() <= AS_OF, text


def test_contacts_have_valid_phones_sources_and_times(book: Loaded) -> None:
    customers = {c["customer_id"] for c in book.files["customers"]}
    keys: Counter[tuple[str, ...]] = Counter()
    for row in book.files["contacts"]:
        assert row["customer_id"] in customers
        if row["kind"] in ("mobile", "emergency"):
            assert MOBILE.match(row["value"]), row
        else:
            assert row["kind"] in ("home", "work")
            assert LANDLINE.match(row["value"]), row
        if row["kind"] == "emergency":
            assert row["relation"] in {
                "spouse",
                "parent",
                "sibling",
                "child",
                "friend",
                "colleague",
            }
        else:
            assert row["relation"] == ""
        assert row["source"] in SOURCES - {"field"}
        assert row["status"] in STATUSES
        assert_observed(row["observed_at"])
        keys[(row["customer_id"], row["kind"], row["value"], row["source"])] += 1
    assert max(keys.values()) == 1
    statuses = Counter(row["status"] for row in book.files["contacts"])
    assert statuses["invalid"] > 0 and statuses["confirmed"] > 0
    assert {row["source"] for row in book.files["contacts"]} == SOURCES - {"field"}


def test_addresses_are_placed_in_their_city(book: Loaded) -> None:
    places = cpca_places()
    provinces = {"北京市": "北京市", "上海市": "上海市", "广州市": "广东省"}
    keys: Counter[tuple[str, ...]] = Counter()
    blank = 0
    for row in book.files["addresses"]:
        assert row["kind"] in ("residence", "household", "work", "other")
        assert row["source"] in SOURCES and row["status"] in STATUSES
        assert provinces[row["city"]] == row["province"]
        head = row["city"] if row["province"] == row["city"] else row["province"] + row["city"]
        assert row["text"].startswith(head + row["district"]), row["text"]
        assert_observed(row["observed_at"])
        keys[(row["customer_id"], row["kind"], row["text"], row["source"])] += 1
        if not row["lat"]:
            assert not row["lng"]
            blank += 1
            continue
        assert re.fullmatch(r"\d+\.\d{6}", row["lat"]) and re.fullmatch(r"\d+\.\d{6}", row["lng"])
        lat, lng = float(row["lat"]), float(row["lng"])
        # Within about 0.5° of the city centre (outer districts such as 平谷 and 延庆 are
        # 60-70 km out), and a Gaussian step of 2.5 km from the district centroid.
        assert km_between(lat, lng, places[(row["city"], "")]) < 80, row
        assert km_between(lat, lng, places[(row["city"], row["district"])]) < 15, row
    assert max(keys.values()) == 1
    assert 0.05 < blank / len(book.files["addresses"]) < 0.15
    cities = Counter(r["city"] for r in book.files["addresses"] if r["kind"] == "residence")
    assert set(cities) == set(provinces)
    assert min(cities.values()) > 0.2 * sum(cities.values())


def test_loans_follow_the_contract(book: Loaded) -> None:
    customers = {c["customer_id"] for c in book.files["customers"]}
    for loan in book.files["loans"]:
        assert re.fullmatch(r"L\d{8}", loan["loan_id"])
        assert loan["customer_id"] in customers
        assert MONEY.match(loan["principal"])
        assert 300_000 <= parse_yuan(loan["principal"]) <= 20_000_000
        rate = Decimal(loan["annual_rate"])
        assert Decimal("0.072") <= rate <= Decimal("0.24")
        exponent = rate.normalize().as_tuple().exponent
        assert isinstance(exponent, int) and -exponent <= 6
        assert loan["term_months"] in {"6", "12", "24", "36"}
        assert loan["method"] in {"equal_installment", "equal_principal", "interest_first"}
        disbursed = date.fromisoformat(loan["disbursed_on"])
        assert 0 < (AS_OF - disbursed).days <= 3 * 366
        assert date.fromisoformat(loan["first_due_on"]) == add_months(disbursed, 1)
        penalty = Decimal(loan["penalty_rate_daily"])
        assert 0 < penalty < Decimal("0.01")
        rate_to_units(penalty)  # at most 8 decimals
    assert len({loan["loan_id"] for loan in book.files["loans"]}) == len(book.files["loans"])
    methods = Counter(loan["method"] for loan in book.files["loans"])
    assert methods.most_common(1)[0][0] == "equal_installment"


def test_payments_belong_to_loans_and_fall_in_their_life(book: Loaded) -> None:
    disbursed = {
        loan["loan_id"]: date.fromisoformat(loan["disbursed_on"]) for loan in book.files["loans"]
    }
    ids = set()
    for payment in book.files["payments"]:
        assert re.fullmatch(r"P\d{9}", payment["payment_id"])
        ids.add(payment["payment_id"])
        paid_on = date.fromisoformat(payment["paid_on"])
        assert disbursed[payment["loan_id"]] <= paid_on <= AS_OF
        assert MONEY.match(payment["amount"]) and parse_yuan(payment["amount"]) > 0
        assert payment["channel"] in {"bank_transfer", "auto_debit", "alipay", "wechat", "counter"}
    assert len(ids) == len(book.files["payments"])


def test_overdue_share_and_bucket_spread(book: Loaded) -> None:
    buckets = Counter(s.bucket for s in book.snapshots.values())
    overdue = sum(1 for s in book.snapshots.values() if s.dpd > 0)
    assert 0.08 <= overdue / len(book.snapshots) <= 0.12, buckets
    assert sum(1 for name in BUCKETS if buckets[name]) >= 5, buckets
    assert buckets["M1"] > buckets["M7+"], buckets
    assert buckets["M1"] + buckets["M2"] > buckets["M5"] + buckets["M6"] + buckets["M7+"] / 2


def test_the_hidden_story_matches_the_system_view(book: Loaded) -> None:
    """Every loan told to stop is overdue by the system's own definition; no other is."""
    behaviours: Counter[str] = Counter()
    for loan_id, snap in book.snapshots.items():
        behaviour = book.truth[loan_id]["behaviour"]
        behaviours[behaviour] += 1
        assert behaviour in OVERDUE | CURRENT
        assert (snap.dpd > 0) == (behaviour in OVERDUE), (loan_id, behaviour, snap)
        assert (book.truth[loan_id]["cause"] == "") == (behaviour in {"on_time", "prepaid"})
    assert set(behaviours) == OVERDUE | CURRENT


def test_causes_leave_traces_in_the_payments(book: Loaded) -> None:
    loans_of: dict[str, list[str]] = defaultdict(list)
    for row in book.files["demo_truth"]:
        loans_of[row["customer_id"]].append(row["loan_id"])
    method = {loan["loan_id"]: loan["method"] for loan in book.files["loans"]}
    for loan_id, truth in book.truth.items():
        rows, paid = book.schedules[loan_id], book.payments[loan_id]
        amounts = {row.amount_due for row in rows}
        behaviour = truth["behaviour"]
        if behaviour == "never_paid":
            assert not paid
        elif behaviour in ("sudden_stop", "dispute"):  # a perfect record, then silence
            assert all(p.amount in amounts for p in paid)
            assert all(p.paid_on <= rows[i].due_on for i, p in enumerate(paid))
        elif behaviour == "cured":  # one late payment catching up on several installments
            assert any(
                after.due_on <= p.paid_on and p.amount > row.amount_due + after.amount_due
                for p in paid
                for row, after in pairwise(rows)
            )
        elif behaviour == "slow_decline" and method[loan_id] == "equal_installment":
            # Long enough overdue to have paid part of the first missed installment.
            assert book.snapshots[loan_id].dpd <= 25 or paid[-1].amount < rows[0].amount_due
        if behaviour == "dispute":  # the customer still pays another loan
            others = [other for other in loans_of[truth["customer_id"]] if other != loan_id]
            assert others and all(book.snapshots[o].dpd == 0 for o in others)
