"""The ingest file contracts (DESIGN §5) as data: one spec per file, one per column."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from doorstep.domain.contact import SOURCES, ContactStatus
from doorstep.domain.schedule import RepaymentMethod


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"  # yuan string -> integer fen
    RATE = "rate"  # decimal fraction string, kept exact
    INT = "int"
    FLOAT = "float"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = True  # the column must be in the file
    nullable: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_hint: str = ""
    low: float | None = None  # inclusive bounds for numbers; money in yuan
    high: float | None = None
    rate_places: int = 8


@dataclass(frozen=True)
class FileSpec:
    entity: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    optional_file: bool = False
    references: dict[str, str] = field(default_factory=dict)  # column -> entity

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ID = r"^[A-Za-z0-9_\-.:]{1,64}$"
ID_HINT = "1-64 letters, digits or _-.:"
OBSERVED_AT = Column("observed_at", Kind.DATETIME)
STATUS = Column("status", required=False, nullable=True, choices=tuple(ContactStatus))

CUSTOMERS = FileSpec(
    "customers",
    (
        Column("customer_id", pattern=ID, pattern_hint=ID_HINT),
        Column("name", max_length=100),
        Column("id_number", max_length=18),
        Column("gender", choices=("M", "F")),
        Column("birth_date", Kind.DATE),
        Column("employer", nullable=True, required=False),
    ),
    key=("customer_id",),
)
CONTACTS = FileSpec(
    "contacts",
    (
        Column("customer_id", pattern=ID, pattern_hint=ID_HINT),
        Column("kind", choices=("mobile", "home", "work", "emergency")),
        Column("value", max_length=32),
        Column("relation", nullable=True, required=False, max_length=32),
        Column("source", choices=SOURCES),
        OBSERVED_AT,
        STATUS,
    ),
    key=("customer_id", "kind", "value", "source"),
    references={"customer_id": "customers"},
)
ADDRESSES = FileSpec(
    "addresses",
    (
        Column("customer_id", pattern=ID, pattern_hint=ID_HINT),
        Column("kind", choices=("residence", "household", "work", "other")),
        Column("text", max_length=300),
        Column("province", nullable=True, max_length=32),
        Column("city", nullable=True, max_length=32),
        Column("district", nullable=True, max_length=32),
        Column("lat", Kind.FLOAT, nullable=True, required=False, low=-90, high=90),
        Column("lng", Kind.FLOAT, nullable=True, required=False, low=-180, high=180),
        Column("source", choices=SOURCES),
        OBSERVED_AT,
        STATUS,
    ),
    key=("customer_id", "kind", "text", "source"),
    references={"customer_id": "customers"},
)
LOANS = FileSpec(
    "loans",
    (
        Column("loan_id", pattern=ID, pattern_hint=ID_HINT),
        Column("customer_id", pattern=ID, pattern_hint=ID_HINT),
        Column("product", max_length=64),
        # Upper bounds keep penalty sums inside 64-bit integers (see domain.delinquency).
        Column("principal", Kind.MONEY, low=0.01, high=10_000_000),
        Column("annual_rate", Kind.RATE, high=1, rate_places=6),
        Column("term_months", Kind.INT, low=1, high=600),
        Column("method", choices=tuple(RepaymentMethod)),
        Column("disbursed_on", Kind.DATE),
        Column("first_due_on", Kind.DATE),
        Column("penalty_rate_daily", Kind.RATE, high=0.01, rate_places=8),
    ),
    key=("loan_id",),
    references={"customer_id": "customers"},
)
INSTALLMENTS = FileSpec(
    "installments",
    (
        Column("loan_id", pattern=ID, pattern_hint=ID_HINT),
        Column("seq", Kind.INT, low=1, high=600),
        Column("due_on", Kind.DATE),
        Column("principal_due", Kind.MONEY, low=0, high=10_000_000),
        Column("interest_due", Kind.MONEY, low=0, high=10_000_000),
        Column("fee_due", Kind.MONEY, required=False, nullable=True, low=0, high=10_000_000),
    ),
    key=("loan_id", "seq"),
    optional_file=True,
    references={"loan_id": "loans"},
)
PAYMENTS = FileSpec(
    "payments",
    (
        Column("payment_id", pattern=ID, pattern_hint=ID_HINT),
        Column("loan_id", pattern=ID, pattern_hint=ID_HINT),
        Column("paid_on", Kind.DATE),
        Column("amount", Kind.MONEY, low=0.01, high=10_000_000),
        Column("channel", max_length=32),
    ),
    key=("payment_id",),
    references={"loan_id": "loans"},
)

SPECS = {s.entity: s for s in (CUSTOMERS, CONTACTS, ADDRESSES, LOANS, INSTALLMENTS, PAYMENTS)}
ORDER = tuple(SPECS)  # parents before children
