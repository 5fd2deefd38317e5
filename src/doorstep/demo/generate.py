"""The synthetic lender book behind `doorstep demo`.

Customers in Beijing, Shanghai and Guangzhou with national IDs, phones and addresses from
several sources, their loans, and a payment history in which every overdue loan carries
the trace of why it stopped paying. Each loan's hidden story goes to demo_truth.csv, which
is never ingested. The same (seed, customers, as_of) gives byte-identical files.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from faker import Faker

from doorstep.domain.calendar import add_months
from doorstep.domain.identity import id_check_digit
from doorstep.domain.money import RATE_SCALE, Fen, format_yuan, rate_to_units
from doorstep.domain.schedule import Installment, build_schedule

Progress = Callable[[str, int, int], None]
T = TypeVar("T")

# Approximate residents per district (2020 census, 10k people): borrowers live where
# people live, so the planner later sees a realistic density.
POPULATION: dict[str, dict[str, int]] = {
    "北京市": {
        "东城区": 71, "西城区": 111, "朝阳区": 345, "丰台区": 202, "石景山区": 57,
        "海淀区": 313, "门头沟区": 39, "房山区": 131, "通州区": 184, "顺义区": 132,
        "昌平区": 227, "大兴区": 199, "怀柔区": 44, "平谷区": 46, "密云区": 53, "延庆区": 35,
    },
    "上海市": {
        "黄浦区": 66, "徐汇区": 111, "长宁区": 69, "静安区": 98, "普陀区": 124, "虹口区": 76,
        "杨浦区": 124, "闵行区": 265, "宝山区": 224, "嘉定区": 183, "浦东新区": 568,
        "金山区": 82, "松江区": 191, "青浦区": 127, "奉贤区": 114, "崇明区": 64,
    },
    "广州市": {
        "荔湾区": 112, "越秀区": 104, "海珠区": 182, "天河区": 224, "白云区": 374,
        "黄埔区": 120, "番禺区": 266, "花都区": 164, "南沙区": 85, "从化区": 72, "增城区": 147,
    },
}  # fmt: skip
# city -> (province, landline area code, adcode prefix in cpca)
CITIES = {
    "北京市": ("北京市", "010", "1101"),
    "上海市": ("上海市", "021", "3101"),
    "广州市": ("广东省", "020", "4401"),
}
SCATTER_KM = 2.5  # a home is a Gaussian step of this size from its district's centroid
KM_PER_DEGREE = 111.0
NO_COORDINATES = 0.10  # share of addresses left for the geocoder
MAX_AGE_DAYS = 1095  # loans were disbursed within three years of the book date

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "176", "177", "178", "180", "181",
    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
RELATIONS = ("spouse", "parent", "sibling", "child", "friend", "colleague")
ESTATE_KINDS = ("花园", "小区", "公寓", "家园", "苑", "新村", "雅居")


class Rng:
    """The seeded numpy generator, read in blocks: a numpy call per scalar costs
    microseconds, and a book needs millions of draws."""

    BLOCK = 1 << 16

    def __init__(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)
        self.uniforms: list[float] = []
        self.normals: list[float] = []

    def random(self) -> float:
        """Uniform in [0, 1)."""
        if not self.uniforms:
            self.uniforms = self.generator.random(self.BLOCK).tolist()[::-1]
        return self.uniforms.pop()

    def integers(self, low: int, high: int | None = None) -> int:
        """Uniform in [low, high), or [0, low) with one argument, as numpy's."""
        low, high = (0, low) if high is None else (low, high)
        return low + int(self.random() * (high - low))

    def normal(self, mean: float, sd: float) -> float:
        if not self.normals:
            self.normals = self.generator.standard_normal(self.BLOCK).tolist()[::-1]
        return mean + sd * self.normals.pop()

    def beta(self, a: float, b: float) -> float:
        return float(self.generator.beta(a, b))


class Choice(Generic[T]):
    """A weighted draw from fixed options, faster than rng.choice for single draws."""

    def __init__(self, options: Sequence[T], weights: Sequence[float]) -> None:
        total = sum(weights)
        self.options = list(options)
        self.bounds = [bound / total for bound in accumulate(weights)]

    def draw(self, rng: Rng) -> T:
        return self.options[min(bisect.bisect_right(self.bounds, rng.random()), len(self) - 1)]

    def __len__(self) -> int:
        return len(self.options)


TERMS = Choice((6, 12, 24, 36), (0.15, 0.40, 0.25, 0.20))
RATES = ("0.0720", "0.0899", "0.1080", "0.1200", "0.1440", "0.1620", "0.1800", "0.2160", "0.2400")
# Customers who later get into trouble were priced as riskier: their rates skew higher.
RATE_GOOD = Choice(RATES, (8, 10, 13, 15, 16, 13, 11, 8, 6))
RATE_RISKY = Choice(RATES, (3, 4, 6, 9, 13, 15, 17, 17, 16))
METHODS = Choice(("equal_installment", "equal_principal", "interest_first"), (80, 12, 8))
PRODUCTS = Choice(("consumer_cash", "consumer_installment"), (60, 40))
CHANNELS = Choice(
    ("auto_debit", "alipay", "wechat", "bank_transfer", "counter"), (45, 20, 15, 15, 5)
)
MANUAL = Choice(("alipay", "wechat", "bank_transfer", "counter"), (35, 30, 25, 10))
LOANS_PER_CUSTOMER = Choice((1, 2, 3), (80, 16, 4))  # mean about 1.25
MOVE_SOURCES = Choice(("core_banking", "call", "field"), (50, 30, 20))  # who learnt of a move
PREPAY_SHARE = 0.12  # performing loans paid off early in one transfer
LATE_SHARE = 0.04  # on-time payers still pay a day or three late now and then


@dataclass(frozen=True, slots=True)
class Story:
    """What happens to a customer: the hidden truth behind their payment history."""

    behaviour: str
    share: float  # of customers
    causes: tuple[str, ...]
    history: int  # installments paid normally before the trouble starts, at least

    @property
    def overdue(self) -> bool:
        return self.behaviour not in ("on_time", "cured")


# Shares are tuned so that about 10% of loans are overdue on the book date.
STORIES = (
    Story("sudden_stop", 0.038, ("job_loss", "medical", "business_failure", "family_event"), 3),
    Story("slow_decline", 0.022, ("income_drop", "poor_money_management"), 5),
    Story("never_paid", 0.014, ("fraud_or_identity_theft", "willful_evasion"), 0),
    Story("intermittent", 0.017, ("poor_money_management",), 6),
    Story("dispute", 0.012, ("dispute", "product_misunderstood"), 1),
    Story("cured", 0.030, ("job_loss", "medical", "income_drop", "family_event"), 2),
    Story("on_time", 0.867, (), 0),
)
STORY = Choice(STORIES, [s.share for s in STORIES])
# Days past due when a story's trouble began: most trouble is recent, some is old and
# never resolved (M1 1-30, M2 31-60, ..., M7+ over 180).
DPD_BUCKETS = Choice(
    ((1, 30), (31, 60), (61, 90), (91, 120), (121, 150), (151, 180), (181, 720)),
    (32, 18, 12, 9, 7, 6, 16),
)


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    loans: int
    payments: int
    contacts: int
    addresses: int
    files: dict[str, Path]  # entity name -> CSV path


@dataclass(frozen=True, slots=True)
class District:
    adcode: str  # 6 digits: also the region code of a national ID registered there
    province: str
    city: str
    name: str
    lat: float
    lng: float
    area_code: str  # landline prefix


@dataclass(frozen=True, slots=True)
class LoanPlan:
    disbursed_on: date
    term: int
    behaviour: str
    trouble_at: int = 0  # index of the first installment the story disturbs
    missed: int = 0  # cured: installments missed before catching up


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


def load_districts() -> list[tuple[District, int]]:
    """The districts of the three cities with their centroids (from cpca) and population."""
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    known: dict[tuple[str, str], tuple[str, float, float]] = {}
    for line in text.splitlines()[1:]:
        adcode, name, longitude, latitude = line.split(",")
        if longitude and latitude:  # cpca's 12-digit adcode: 6 digits name the district
            known[(adcode[:4], name)] = (adcode[:6], float(latitude), float(longitude))
    found = []
    for city, districts in POPULATION.items():
        province, area_code, prefix = CITIES[city]
        for name, people in districts.items():
            code, lat, lng = known[(prefix, name)]
            found.append((District(code, province, city, name, lat, lng, area_code), people))
    return found


# --- people ------------------------------------------------------------------------------


def birth_date(as_of: date, rng: Rng) -> date:
    """Aged 20 to 60 on `as_of`, most borrowers in their late twenties and thirties."""
    youngest = add_months(as_of, -20 * 12)
    oldest = add_months(as_of, -61 * 12) + timedelta(days=1)
    span = (youngest - oldest).days
    return youngest - timedelta(days=int(rng.beta(2.0, 3.5) * span))


def person_name(fake: Faker, male: bool) -> str:
    """Family name and a given name of the right gender (Faker's zh_CN name_male and
    name_female mix both)."""
    given = fake.first_name_male() if male else fake.first_name_female()
    return str(fake.last_name()) + str(given)


def national_id(region: str, born: date, male: bool, rng: Rng) -> str:
    """GB 11643: region, birth date, a sequence whose last digit is odd for men, check."""
    sequence = rng.integers(0, 500) * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def mobile(rng: Rng, taken: list[str]) -> str:
    """A mainland mobile number not already among this customer's numbers."""
    while True:
        number = MOBILE_PREFIXES[rng.integers(len(MOBILE_PREFIXES))]
        number += f"{rng.integers(10**8):08d}"
        if number not in taken:
            taken.append(number)
            return number


def landline(area_code: str, rng: Rng) -> str:
    return f"{area_code}-{rng.integers(20_000_000, 90_000_000)}"


def day_between(first: date, last: date, rng: Rng) -> date:
    """A day in [first, last]; `last` when the range is empty."""
    span = (last - first).days
    return last if span <= 0 else first + timedelta(days=rng.integers(span + 1))


def stamp(day: date, rng: Rng) -> str:
    """An observation time during business hours in China (UTC+8)."""
    return f"{day.isoformat()}T{rng.integers(8, 21):02d}:{rng.integers(60):02d}:00+08:00"


@dataclass(frozen=True, slots=True)
class Places:
    """Street and estate names drawn once from Faker, then picked by the numpy stream."""

    streets: list[str]
    estates: list[str]

    @classmethod
    def make(cls, fake: Faker) -> Places:
        return cls(
            [fake.street_name() for _ in range(800)], [fake.company_prefix() for _ in range(400)]
        )

    def pick(self, names: list[str], rng: Rng) -> str:
        return names[rng.integers(len(names))]

    def home(self, district: District, rng: Rng) -> str:
        """e.g. 北京市朝阳区建国路88号华贸公寓3栋402室."""
        estate = self.pick(self.estates, rng) + ESTATE_KINDS[rng.integers(len(ESTATE_KINDS))]
        unit = f"{rng.integers(1, 5)}单元" if rng.random() < 0.5 else ""
        room = rng.integers(1, 33) * 100 + rng.integers(1, 7)
        return (
            f"{_prefix(district)}{self.pick(self.streets, rng)}{rng.integers(1, 400)}号"
            f"{estate}{rng.integers(1, 30)}栋{unit}{room}室"
        )

    def office(self, district: District, rng: Rng) -> str:
        tower = self.pick(self.estates, rng)
        return (
            f"{_prefix(district)}{self.pick(self.streets, rng)}{rng.integers(1, 600)}号"
            f"{tower}大厦{rng.integers(1, 40)}层"
        )


def _prefix(district: District) -> str:
    """Addresses name the province only where it differs from the city (not 北京市北京市)."""
    if district.province == district.city:
        return district.city + district.name
    return district.province + district.city + district.name


def point(district: District, rng: Rng) -> tuple[str, str]:
    """(lat, lng) around the district centroid, or blanks for the geocoder to fill."""
    if rng.random() < NO_COORDINATES:
        return "", ""
    lat = district.lat + rng.normal(0.0, SCATTER_KM / KM_PER_DEGREE)
    lng = district.lng + rng.normal(0.0, SCATTER_KM / (KM_PER_DEGREE * math.cos(math.radians(lat))))
    return f"{lat:.6f}", f"{lng:.6f}"


# --- loans -------------------------------------------------------------------------------


def performing_plan(as_of: date, rng: Rng) -> LoanPlan:
    disbursed = as_of - timedelta(days=rng.integers(1, MAX_AGE_DAYS + 1))
    return LoanPlan(disbursed, TERMS.draw(rng), "on_time")


def anchored_plan(
    anchor: date, history: int, after: int, behaviour: str, as_of: date, rng: Rng, missed: int = 0
) -> LoanPlan:
    """A loan with an installment due on `anchor` (about), at least `history` installments
    before it and `after` from it on, disbursed within MAX_AGE_DAYS of the book date."""
    terms = [t for t in TERMS.options if t >= history + after]
    term = terms[rng.integers(len(terms))]
    room = int((MAX_AGE_DAYS - (as_of - anchor).days) / 30.44) - 1
    latest = max(history, min(term - after, room))
    index = rng.integers(history, latest + 1)
    return LoanPlan(add_months(anchor, -(index + 1)), term, behaviour, index, missed)


def plan_loans(story: Story, count: int, as_of: date, rng: Rng) -> list[LoanPlan]:
    """Every loan of one customer. A customer's trouble hits all their loans at once (the
    first due date they miss is shared), except a dispute, which is about one loan."""
    if story.behaviour == "on_time":
        return [performing_plan(as_of, rng) for _ in range(count)]
    if story.behaviour == "cured":
        missed = rng.integers(1, 4)
        began = as_of - timedelta(days=rng.integers(missed * 31 + 45, 600))
        return [
            anchored_plan(began, story.history, missed + 1, "cured", as_of, rng, missed)
            for _ in range(count)
        ]
    low, high = DPD_BUCKETS.draw(rng)
    stop = as_of - timedelta(days=low + rng.integers(high - low + 1))
    if story.behaviour == "never_paid":  # loans taken together, first installment never paid
        return [
            LoanPlan(add_months(stop, -1) - timedelta(days=rng.integers(4)),
                     TERMS.draw(rng), "never_paid")
            for _ in range(count)
        ]  # fmt: skip
    if story.behaviour == "dispute":  # one loan disputed, the others paid on time
        return [
            anchored_plan(stop, story.history, 1, "dispute", as_of, rng),
            *(anchored_plan(stop, 1, 2, "on_time", as_of, rng) for _ in range(max(count, 2) - 1)),
        ]
    return [
        anchored_plan(stop, story.history, 1, story.behaviour, as_of, rng) for _ in range(count)
    ]


def penalty_rate(annual_rate: str, rng: Rng) -> str:
    """Mostly the common 0.05% a day; some lenders charge 1.5x the contract rate."""
    if rng.random() < 0.8:
        return "0.0005"
    return f"{(Decimal(annual_rate) * Decimal('1.5') / 360).quantize(Decimal('1e-8')):f}"


def principal_fen(rng: Rng) -> Fen:
    """Lognormal around 20,000 yuan, in steps of 500 yuan, 3,000 to 200,000."""
    steps = round(math.exp(rng.normal(math.log(20_000), 0.8)) / 500)
    return min(max(steps, 6), 400) * 500 * 100


# --- payments ----------------------------------------------------------------------------


class Payer:
    """Writes one loan's payments: full, late with penalty, partial, or none."""

    def __init__(
        self, disbursed_on: date, as_of: date, penalty_units: int, channel: str, rng: Rng
    ) -> None:
        self.disbursed_on, self.as_of = disbursed_on, as_of
        self.penalty_units, self.channel, self.rng = penalty_units, channel, rng
        self.payments: list[tuple[date, Fen, str]] = []

    def penalty(self, day: date, rows: Sequence[Installment]) -> Fen:
        """At least the penalty these unpaid rows have accrued by `day`, so that a late
        payment settles them (the waterfall takes penalty before principal)."""
        total = 0
        for row in rows:
            days = (day - row.due_on).days
            if days > 0:
                total += -(-row.principal_due * days * self.penalty_units // RATE_SCALE)
        return total

    def pay(self, day: date, amount: Fen, late: bool) -> None:
        day = min(max(day, self.disbursed_on), self.as_of)
        # A late payment means the auto-debit failed: the borrower paid by hand.
        channel = MANUAL.draw(self.rng) if late and self.channel == "auto_debit" else self.channel
        self.payments.append((day, amount, channel))

    def settle(self, day: date, rows: Sequence[Installment], late: bool = False) -> None:
        self.pay(day, sum(r.amount_due for r in rows) + self.penalty(day, rows), late)

    def due_day(self, row: Installment) -> date:
        """Auto-debit takes the money on the due date; others pay up to five days early."""
        if self.channel == "auto_debit":
            return row.due_on
        return row.due_on - timedelta(days=self.rng.integers(6))

    def on_time(self, rows: Sequence[Installment], late_share: float = LATE_SHARE) -> None:
        for row in rows:
            day, late = self.due_day(row), False
            if self.rng.random() < late_share:
                late_day = row.due_on + timedelta(days=self.rng.integers(1, 4))
                # Never late past the book date: that would make a good payer overdue.
                if late_day <= self.as_of:
                    day, late = late_day, True
            if day > self.as_of:
                return
            self.settle(day, [row], late)

    def performing(self, rows: Sequence[Installment]) -> str:
        """On time to the end or the book date, or paid off early in one transfer."""
        due = sum(1 for r in rows if r.due_on <= self.as_of)
        if due >= 3 and due < len(rows) and self.rng.random() < PREPAY_SHARE:
            last_paid = self.rng.integers(1, due)
            self.on_time(rows[:last_paid])
            day = rows[last_paid - 1].due_on + timedelta(days=self.rng.integers(3, 25))
            self.settle(day, rows[last_paid:])
            return "prepaid"
        self.on_time(rows)
        return "on_time"

    def increasingly_late(self, rows: Sequence[Installment]) -> None:
        """Each payment later than the one before, always in full with the penalty."""
        delays = sorted(self.rng.integers(2, 26) for _ in rows)
        for row, delay in zip(rows, delays, strict=True):
            self.settle(row.due_on + timedelta(days=delay), [row], late=True)

    def dwindling(self, rows: Sequence[Installment], shares: Sequence[int]) -> None:
        """Partial payments, each a smaller share (percent) of the first unpaid installment,
        together less than it: that installment stays overdue."""
        first = rows[0].amount_due if rows else 0
        for row, share in zip(rows, shares, strict=False):
            day = row.due_on + timedelta(days=self.rng.integers(5, 21))
            amount = max(first * share // 100 // 100 * 100, 100)  # round yuan, as people pay
            if day > self.as_of or amount >= first:
                return
            self.pay(day, amount, late=True)

    def intermittent(self, rows: Sequence[Installment]) -> None:
        """Misses one or two installments, catches up with penalty, misses again."""
        behind: list[Installment] = []
        for position, row in enumerate(rows):
            if position < len(rows) - 1 and len(behind) < 2 and self.rng.random() < 0.3:
                behind.append(row)
                continue
            if behind or self.rng.random() < 0.3:
                day = row.due_on + timedelta(days=self.rng.integers(1, 13))
                self.settle(day, [*behind, row], late=True)
            else:
                self.settle(self.due_day(row), [row])
            behind = []


def loan_payments(
    plan: LoanPlan, rows: list[Installment], payer: Payer, rng: Rng
) -> tuple[list[tuple[date, Fen, str]], str]:
    """The payments of one loan following its story; returns them and the loan's label."""
    stop, behaviour = plan.trouble_at, plan.behaviour
    if behaviour == "on_time":
        behaviour = payer.performing(rows)
    elif behaviour in ("sudden_stop", "dispute"):  # perfect history, then nothing
        payer.on_time(rows[:stop], late_share=0.0)
    elif behaviour == "slow_decline":
        payer.on_time(rows[: stop - 4], late_share=0.0)
        payer.increasingly_late(rows[stop - 4 : stop])
        payer.dwindling(rows[stop:], (rng.integers(35, 51), rng.integers(20, 31), 10))
    elif behaviour == "intermittent":
        payer.intermittent(rows[:stop])
        if rng.random() < 0.5:  # one token payment after the stop
            payer.dwindling(rows[stop:], (rng.integers(10, 31),))
    elif behaviour == "cured":  # missed a spell, paid all of it back with penalty
        payer.on_time(rows[:stop])
        caught_up = rows[stop + plan.missed]
        day = caught_up.due_on + timedelta(days=rng.integers(7))
        payer.settle(day, rows[stop : stop + plan.missed + 1], late=True)
        payer.on_time(rows[stop + plan.missed + 1 :])
    # never_paid: no payment at all
    return payer.payments, behaviour


# --- the book ----------------------------------------------------------------------------


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
