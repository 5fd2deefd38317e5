"""Small lender books written as ingest files, for tests: valid by default, easy to break;
and loading one the normal way (ingest, then the delinquency batch)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.identity import id_check_digit
from doorstep.services.delinquency import run_delinquency
from doorstep.services.ingest import ingest_files
from doorstep.services.ingest.contracts import SPECS
from doorstep.store.db import transaction

# The columns each file carries: the ingest contracts themselves, so they cannot drift.
HEADERS = {
    entity: [column.name for column in SPECS[entity].columns]
    for entity in ("customers", "contacts", "addresses", "loans", "payments")
}


def national_id(region: str = "110105", birth: str = "19900307", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + id_check_digit(first17)


@dataclass
class Book:
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def write(self, folder: Path, entities: Sequence[str] | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for entity, rows in self.rows.items():
            if entities is not None and entity not in entities:
                continue
            header = list(HEADERS.get(entity, []))
            for row in rows:
                header += [k for k in row if k not in header]
            with (folder / f"{entity}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
        return folder


def small_book(customers: int = 3) -> Book:
    """`customers` customers, each with a mobile, an address and one 12-month loan that
    paid its first installment."""
    book = Book({k: [] for k in HEADERS})
    for n in range(1, customers + 1):
        cid, lid = f"C{n:04d}", f"L{n:04d}"
        book.rows["customers"].append(
            {
                "customer_id": cid,
                "name": f"客户{n}",
                "id_number": national_id(seq=f"{n % 500 * 2 + 1:03d}"),
                "gender": "M",
                "birth_date": "1990-03-07",
                "employer": "示例公司",
            }
        )
        book.rows["contacts"].append(
            {
                "customer_id": cid,
                "kind": "mobile",
                "value": f"1381234{n:04d}",
                "relation": "",
                "source": "application",
                "observed_at": "2024-01-01T10:00:00+08:00",
            }
        )
        book.rows["addresses"].append(
            {
                "customer_id": cid,
                "kind": "residence",
                "text": f"北京市朝阳区建国路{n}号",
                "province": "北京市",
                "city": "北京市",
                "district": "朝阳区",
                "lat": "39.9",
                "lng": "116.44",
                "source": "application",
                "observed_at": "2024-01-01T10:00:00+08:00",
            }
        )
        book.rows["loans"].append(
            {
                "loan_id": lid,
                "customer_id": cid,
                "product": "consumer_cash",
                "principal": "12000.00",
                "annual_rate": "0.12",
                "term_months": "12",
                "method": "equal_installment",
                "disbursed_on": "2024-01-10",
                "first_due_on": "2024-02-10",
                "penalty_rate_daily": "0.0005",
            }
        )
        book.rows["payments"].append(
            {
                "payment_id": f"P{n:04d}",
                "loan_id": lid,
                "paid_on": "2024-02-10",
                "amount": "1066.19",
                "channel": "alipay",
            }
        )
    return book


def make_keys() -> tuple[object, object]:
    """A throwaway cipher and lookup hasher for tests."""
    from doorstep.integrations.crypto import FernetCipher, HmacHasher, new_data_key

    return FernetCipher([new_data_key()]), HmacHasher("test-lookup-key")


def _test_keys() -> tuple[str, tuple[object, object]]:
    from doorstep.integrations.crypto import DataCipher, HmacHasher, new_data_key

    key = new_data_key()
    return key, (DataCipher([key]), HmacHasher(TEST_LOOKUP_KEY))


TEST_LOOKUP_KEY = "test-lookup-key"
TEST_DATA_KEY, TEST_KEYS = _test_keys()
TEST_CIPHER: Any = TEST_KEYS[0]
"""The keys of the `keys` fixture (one pair per worker process): helpers that build a
service's settings outside a test's fixtures seal and open with these too (Settings
with `data_keys=TEST_DATA_KEY, lookup_key=TEST_LOOKUP_KEY` give the same)."""


def in_shanghai(book: Book, every: int = 4) -> Book:
    """Move every `every`-th customer's address (the last of each group) to Shanghai."""
    for n, row in enumerate(book.rows["addresses"]):
        if n % every == every - 1:
            row.update(
                text=f"上海市浦东新区张江路{n}号",
                province="上海市",
                city="上海市",
                district="浦东新区",
            )
    return book


def load_book(engine: Engine, folder: Path, keys: tuple[object, object], reports_dir: Path) -> None:
    """Ingest the files in `folder` as the lender's delivery (one transaction)."""
    cipher, hasher = keys
    with transaction(engine) as session:
        ingest_files(
            session,
            [folder],
            zone=ZoneInfo("Asia/Shanghai"),
            reports_dir=reports_dir,
            cipher=cipher,  # type: ignore[arg-type]
            hasher=hasher,  # type: ignore[arg-type]
        )


def compute_delinquency(engine: Engine, as_of: date) -> None:
    """The delinquency batch of `as_of` with the default waterfall and buckets."""
    with transaction(engine) as session:
        run_delinquency(session, as_of, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
