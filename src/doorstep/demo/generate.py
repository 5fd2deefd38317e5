"""The synthetic lender book behind `doorstep demo`.

Customers in Beijing, Shanghai and Guangzhou with national IDs, phones and addresses from
several sources, their loans, and a payment history in which every overdue loan carries
the trace of why it stopped paying. Each loan's hidden story goes to demo_truth.csv, which
is never ingested. The same (seed, customers, as_of) gives byte-identical files.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from faker import Faker

from doorstep.demo.places import (
    RELATIONS,
    District,
    Places,
    birth_date,
    day_between,
    landline,
    load_districts,
    mobile,
    national_id,
    person_name,
    point,
    stamp,
)
from doorstep.demo.randomness import Choice, Rng
from doorstep.demo.stories import (
    CHANNELS,
    LOANS_PER_CUSTOMER,
    METHODS,
    MOVE_SOURCES,
    PRODUCTS,
    RATE_GOOD,
    RATE_RISKY,
    STORY,
    LoanPlan,
    Payer,
    Story,
    loan_payments,
    penalty_rate,
    plan_loans,
    principal_fen,
)
from doorstep.domain.calendar import add_months
from doorstep.domain.money import format_yuan, rate_to_units
from doorstep.domain.schedule import build_schedule

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    loans: int
    payments: int
    contacts: int
    addresses: int
    files: dict[str, Path]  # entity name -> CSV path


HEADERS = {
    "customers": ("customer_id", "name", "id_number", "gender", "birth_date", "employer"),
    "contacts": ("customer_id", "kind", "value", "relation", "source", "observed_at", "status"),
    "addresses": (
        "customer_id", "kind", "text", "province", "city", "district", "lat", "lng",
        "source", "observed_at", "status",
    ),
    "loans": (
        "loan_id", "customer_id", "product", "principal", "annual_rate", "term_months",
        "method", "disbursed_on", "first_due_on", "penalty_rate_daily",
    ),
    "payments": ("payment_id", "loan_id", "paid_on", "amount", "channel"),
    "demo_truth": ("customer_id", "loan_id", "behaviour", "cause"),
}  # fmt: skip
Row = tuple[str, ...]


@dataclass
class Book:
    """Rows of every file, filled customer by customer."""

    rows: dict[str, list[Row]]
    loans: int = 0
    payments: int = 0

    @classmethod
    def empty(cls) -> Book:
        return cls({entity: [] for entity in HEADERS})

    def write(self, out_dir: Path, progress: Progress | None) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for done, (entity, rows) in enumerate(self.rows.items(), start=1):
            path = out_dir / f"{entity}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(HEADERS[entity])
                writer.writerows(rows)
            files[entity] = path
            if progress:
                progress("writing demo files", done, len(self.rows))
        return files


@dataclass(frozen=True, slots=True)
class Person:
    customer_id: str
    story: Story
    cause: str
    home: District
    household: District
    employed: bool
    applied_on: date  # first application: the application-form contact points date from it


def add_loans(book: Book, person: Person, plans: list[LoanPlan], as_of: date, rng: Rng) -> None:
    rates = RATE_RISKY if person.story.behaviour != "on_time" else RATE_GOOD
    for plan in plans:
        book.loans += 1
        loan_id = f"L{book.loans:08d}"
        principal, rate, term = principal_fen(rng), rates.draw(rng), plan.term
        method = METHODS.draw(rng)
        if method == "interest_first" and term > 12:  # a bullet is for short loans only
            method = "equal_installment"
        penalty = penalty_rate(rate, rng)
        first_due = add_months(plan.disbursed_on, 1)
        book.rows["loans"].append(
            (loan_id, person.customer_id, PRODUCTS.draw(rng), format_yuan(principal), rate,
             str(term), method, plan.disbursed_on.isoformat(), first_due.isoformat(), penalty)
        )  # fmt: skip
        rows = build_schedule(principal, Decimal(rate), term, method, first_due)
        payer = Payer(
            plan.disbursed_on, as_of, rate_to_units(Decimal(penalty)), CHANNELS.draw(rng), rng
        )
        payments, behaviour = loan_payments(plan, rows, payer, rng)
        for paid_on, amount, channel in sorted(payments, key=lambda p: p[0]):
            book.payments += 1
            book.rows["payments"].append(
                (f"P{book.payments:09d}", loan_id, paid_on.isoformat(), format_yuan(amount),
                 channel)
            )  # fmt: skip
        cause = person.cause if behaviour == person.story.behaviour else ""
        book.rows["demo_truth"].append((person.customer_id, loan_id, behaviour, cause))


def add_contacts(book: Book, person: Person, as_of: date, rng: Rng) -> None:
    """Phones from several sources: some stale, some found wrong by the call team."""
    cid, applied, last = person.customer_id, person.applied_on, as_of - timedelta(days=1)
    rows = book.rows["contacts"]
    taken: list[str] = []
    recent = max(applied, as_of - timedelta(days=180))
    changed = rng.random() < (0.4 if person.story.overdue else 0.2)
    current = mobile(rng, taken)
    if changed:  # the application number went dead; core banking has the new one
        old = mobile(rng, taken)
        rows.append((cid, "mobile", old, "", "application", stamp(applied, rng), ""))
        rows.append((cid, "mobile", old, "", "call", stamp(day_between(recent, last, rng), rng),
                     "invalid"))  # fmt: skip
        updated = day_between(applied + timedelta(days=30), last, rng)
        rows.append((cid, "mobile", current, "", "core_banking", stamp(updated, rng), ""))
    else:
        rows.append((cid, "mobile", current, "", "application", stamp(applied, rng), ""))
        if rng.random() < 0.5:
            synced = day_between(applied, last, rng)
            rows.append((cid, "mobile", current, "", "core_banking", stamp(synced, rng), ""))
    if rng.random() < 0.3:
        called = day_between(recent, last, rng)
        rows.append((cid, "mobile", current, "", "call", stamp(called, rng), "confirmed"))
    if rng.random() < 0.3:  # a data vendor's number, often years old
        seen = as_of - timedelta(days=rng.integers(300, 1800))
        rows.append((cid, "mobile", mobile(rng, taken), "", "third_party", stamp(seen, rng),
                     "unverified"))  # fmt: skip
    if rng.random() < 0.3:
        home = landline(person.home.area_code, rng)
        rows.append((cid, "home", home, "", "application", stamp(applied, rng), ""))
    if person.employed and rng.random() < 0.5:
        work = landline(person.home.area_code, rng)
        rows.append((cid, "work", work, "", "application", stamp(applied, rng), ""))
    for _ in range(1 + (rng.random() < 0.6)):
        relation = RELATIONS[rng.integers(len(RELATIONS))]
        rows.append((cid, "emergency", mobile(rng, taken), relation, "application",
                     stamp(applied, rng), ""))  # fmt: skip


def add_addresses(
    book: Book, person: Person, places: Places, districts: Choice[District], as_of: date,
    rng: Rng,
) -> None:  # fmt: skip
    """Household registration, residence (sometimes an outdated one and a newer one), work."""
    cid, applied, last = person.customer_id, person.applied_on, as_of - timedelta(days=1)
    rows = book.rows["addresses"]

    located: dict[str, tuple[str, str]] = {}  # one place per text, whichever source has it

    def add(kind: str, text: str, where: District, source: str, day: date, status: str) -> None:
        lat, lng = located.setdefault(text, point(where, rng))
        rows.append((cid, kind, text, where.province, where.city, where.name, lat, lng, source,
                     stamp(day, rng), status))  # fmt: skip

    household = person.household
    add("household", places.home(household, rng), household, "application", applied, "")
    first_home = places.home(person.home, rng)
    add("residence", first_home, person.home, "application", applied, "")
    moved = rng.random() < (0.4 if person.story.overdue else 0.2)
    if moved:  # moved within the city since applying; the old address is outdated
        where = person.home if rng.random() < 0.4 else _same_city(districts, person.home, rng)
        newer = places.home(where, rng)
        while newer == first_home:
            newer = places.home(where, rng)
        found_on = day_between(applied + timedelta(days=60), last, rng)
        source = MOVE_SOURCES.draw(rng)
        if source == "field":  # an earlier visit found the new home and the old one empty
            add("residence", newer, where, source, found_on, "confirmed")
            add("residence", first_home, person.home, source, found_on, "invalid")
        else:
            add("residence", newer, where, source, found_on, "")
    elif rng.random() < 0.4:  # core banking holds the same address
        add("residence", first_home, person.home, "core_banking", day_between(applied, last, rng),
            "")  # fmt: skip
    if person.employed:
        where = _same_city(districts, person.home, rng)
        add("work", places.office(where, rng), where, "application", applied, "")
    if rng.random() < 0.1:  # a vendor's stale address
        where = _same_city(districts, person.home, rng)
        seen = as_of - timedelta(days=rng.integers(300, 1800))
        add("other", places.home(where, rng), where, "third_party", seen, "unverified")


def _same_city(districts: Choice[District], home: District, rng: Rng) -> District:
    while True:
        district = districts.draw(rng)
        if district.city == home.city:
            return district


def generate_book(
    out_dir: Path,
    *,
    customers: int = 20_000,
    seed: int = 42,
    as_of: date,
    progress: Progress | None = None,
) -> DemoSummary:
    """Write the demo lender book as CSV files into `out_dir` (see the module docstring)."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    rng = Rng(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    places = Places.make(fake)
    weighted = load_districts()
    districts = Choice([d for d, _ in weighted], [people for _, people in weighted])
    book = Book.empty()
    for number in range(1, customers + 1):
        story = STORY.draw(rng)
        home = districts.draw(rng)
        # Half were registered (户籍) where they live; the others elsewhere in the three cities.
        household = home if rng.random() < 0.5 else districts.draw(rng)
        male = rng.random() < 0.56
        born = birth_date(as_of, rng)
        employed = rng.random() < 0.82
        cid = f"C{number:08d}"
        book.rows["customers"].append(
            (cid, person_name(fake, male),
             national_id(household.adcode, born, male, rng), "M" if male else "F",
             born.isoformat(), fake.company() if employed else "")
        )  # fmt: skip
        plans = plan_loans(story, LOANS_PER_CUSTOMER.draw(rng), as_of, rng)
        applied = min(p.disbursed_on for p in plans) - timedelta(days=rng.integers(6))
        cause = story.causes[rng.integers(len(story.causes))] if story.causes else ""
        person = Person(cid, story, cause, home, household, employed, applied)
        add_loans(book, person, plans, as_of, rng)
        add_contacts(book, person, as_of, rng)
        add_addresses(book, person, places, districts, as_of, rng)
        if progress and (number % 500 == 0 or number == customers):
            progress("generating demo book", number, customers)
    files = book.write(out_dir, progress)
    return DemoSummary(
        customers=customers,
        loans=book.loans,
        payments=book.payments,
        contacts=len(book.rows["contacts"]),
        addresses=len(book.rows["addresses"]),
        files=files,
    )
