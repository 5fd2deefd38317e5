"""The manager's dashboard: is the field team working, and is it working well?

Every figure comes from the database as it is (the book from the batch's daily
aggregates, the field from visits, verdicts and promises). A manager sees the cities
in their regions only. Texts are English message ids; the page translates them.

The effect of visits is measured, not assumed: the selection policy keeps a small
random holdout of eligible customers who are not visited (cases cancelled with reason
``holdout``); the cure rate within 30 days of visited customers is shown beside theirs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission, Role
from doorstep.domain.calendar import add_months
from doorstep.domain.case import CaseState
from doorstep.domain.errors import Forbidden
from doorstep.store.repositories import figures as repo

CURE_DAYS = 30
AGE_BANDS = (("0-7 days", 7), ("8-30 days", 30), ("31-60 days", 60), ("over 60 days", None))

TITLES = (
    "Overdue amount by bucket (yuan)",
    "Overdue loans by bucket",
    "Cases by state and age",
    "Visits per day",
    "Visits per team",
    "Field rates (%)",
    "Reasons for default",
    "Hardship or evasion",
    "Promises to pay",
    "Cure within 30 days: visited vs holdout (%)",
    "Recovered in 30 days after a visit (yuan)",
    "Verifier productivity and compliance flags",
)
"""Chart titles (message ids), in page order."""

LABELS = (
    *(band for band, _ in AGE_BANDS),
    "visits",
    "reached",
    "address valid",
    "reach rate",
    "address-valid rate",
    "promise kept rate",
    "hardship share",
    "evasion share",
    "visited",
    "holdout",
    "cured",
    "customers",
    "per visit",
    "per km",
    "visits per active day",
    "flags",
    "hardship",
    "evasion",
    "unclear",
)
"""Other translatable labels and series names."""


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    kind: str  # line | bar | stacked
    labels: list[str]
    series: list[Series]
    translate_labels: bool = False  # labels are message ids (else data: dates, buckets)
    translate_series: bool = False

    @property
    def empty(self) -> bool:
        return not self.labels or not any(any(s.values) for s in self.series)


@dataclass(frozen=True)
class RollMatrix:
    from_day: date
    to_day: date
    buckets: list[str]
    shares: list[list[float]]  # % of loans in row bucket that moved to column bucket
    loans: list[int]  # loans in each row bucket


@dataclass
class Dashboard:
    today: date
    city: str | None
    cities: list[str]
    charts: list[Chart] = field(default_factory=list)
    roll: RollMatrix | None = None


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _visible_cities(actor: Actor, cities: list[str], city: str | None) -> list[str] | None:
    """None = every city (no regional limit); else the cities this page may count."""
    allowed = [c for c in cities if actor.regions is None or c in actor.regions]
    if city:
        return [city] if city in allowed or actor.regions is None else []
    return None if actor.regions is None else allowed


def default_end(session: Session, today: date) -> date:
    """The default period ends today, or on the latest batch day when the book is ahead
    of the clock (a lender's file dated tomorrow, a simulated demo)."""
    latest = repo.latest_day(session.connection())
    return max(today, latest) if latest else today


def build_dashboard(
    session: Session,
    actor: Actor,
    *,
    today: date,
    zone: ZoneInfo,
    city: str | None = None,
    days: int = 90,
    bucket_order: list[str] | None = None,
) -> Dashboard:
    """The dashboard of the `days` up to `today`, in the cities `actor` may see (one
    `city` of them when given); charts in page order (`TITLES`)."""
    if not actor.can(Permission.READ_CASES) or actor.role is Role.VERIFIER:
        raise Forbidden("your role cannot see the dashboard", message_zh="您的角色无权查看看板")
    connection = session.connection()
    all_cities = repo.book_cities(connection)
    cities = _visible_cities(actor, all_cities, city)
    shown = [c for c in all_cities if actor.regions is None or c in actor.regions]
    board = Dashboard(today, city, shown)
    since = today - timedelta(days=days)
    order = {b: n for n, b in enumerate(bucket_order or [])}
    rows = repo.book_series(connection, since, today, cities)
    buckets = sorted({b for _, b, *_ in rows}, key=lambda b: (order.get(b, 99), b))
    board.roll = _roll_matrix(connection, buckets, order)
    field_ = repo.field_figures(connection, since, today, cities, zone)
    promises = repo.promise_statuses(connection, since, today, cities)
    board.charts = [
        *_book_charts(rows, buckets, order),
        _cases_chart(repo.cases_by_state_and_opening(connection, cities), today),
        *_visit_charts(field_),
        *_verdict_charts(field_, promises),
        *_outcome_charts(connection, since, today, cities),
        _productivity_chart(field_),
    ]
    return board


def _book_charts(
    rows: list[tuple[date, str, int, int]], buckets: list[str], order: dict[str, int]
) -> list[Chart]:
    """The overdue amount (stacked) and the overdue loans per bucket, day by day; the
    first bucket of the scheme (current loans) left out."""
    dates = sorted({d for d, *_ in rows})
    overdue_buckets = [b for b in buckets if order.get(b, 1) != 0]
    amount = {(d, b): o for d, b, _, o in rows}
    loans = {(d, b): n for d, b, n, _ in rows}
    labels = [d.isoformat() for d in dates]
    return [
        Chart(
            "book_amount",
            TITLES[0],
            "stacked",
            labels,
            [Series(b, [amount.get((d, b), 0) // 100 for d in dates]) for b in overdue_buckets],
        ),
        Chart(
            "book_loans",
            TITLES[1],
            "line",
            labels,
            [Series(b, [loans.get((d, b), 0) for d in dates]) for b in overdue_buckets],
        ),
    ]


def _cases_chart(counts: list[tuple[str, date, int]], today: date) -> Chart:
    """Cases per state (in the state machine's order), stacked by how long ago they
    opened."""
    ages: dict[str, Counter[str]] = defaultdict(Counter)
    for state, opened_on, count in counts:
        age = (today - opened_on).days
        band = next(name for name, limit in AGE_BANDS if limit is None or age <= limit)
        ages[state][band] += count
    states: list[str] = [s.value for s in CaseState if s.value in ages]
    return Chart(
        "cases",
        TITLES[2],
        "stacked",
        states,
        [Series(band, [ages[s][band] for s in states]) for band, _ in AGE_BANDS],
        translate_labels=True,
        translate_series=True,
    )


def _visit_charts(field_: repo.FieldFigures) -> list[Chart]:
    """Visits per day, and per team with how many reached someone at a valid address."""
    teams = list(field_.per_team)
    per_team = field_.per_team
    return [
        Chart(
            "visits_per_day",
            TITLES[3],
            "line",
            [d.isoformat() for d in field_.per_day],
            [Series("visits", list(field_.per_day.values()))],
            translate_series=True,
        ),
        Chart(
            "visits_per_team",
            TITLES[4],
            "bar",
            teams,
            [
                Series("visits", [per_team[t].visits for t in teams]),
                Series("reached", [per_team[t].reached for t in teams]),
                Series("address valid", [per_team[t].address_valid for t in teams]),
            ],
            translate_series=True,
        ),
    ]


def _verdict_charts(field_: repo.FieldFigures, promises: dict[str, int]) -> list[Chart]:
    """What the verdicts found: the field's rates, the reasons for default, hardship or
    evasion, and the promises to pay by status."""
    settled = sum(promises.get(s, 0) for s in ("kept", "partly_kept", "broken"))
    judged, leaning = field_.judged, field_.leaning
    rates = {
        "reach rate": _percent(field_.reached, judged),
        "address-valid rate": _percent(field_.address_valid, judged),
        "promise kept rate": _percent(promises.get("kept", 0), settled),
        "hardship share": _percent(leaning.get("hardship", 0), judged),
        "evasion share": _percent(leaning.get("evasion", 0), judged),
    }
    reasons = Counter(field_.reasons).most_common()
    sides = ["hardship", "evasion", "unclear"]
    statuses = ["open", "kept", "partly_kept", "broken"]
    return [
        Chart(
            "rates",
            TITLES[5],
            "bar",
            list(rates),
            [Series("%", list(rates.values()))],
            translate_labels=True,
        ),
        Chart(
            "reasons",
            TITLES[6],
            "bar",
            [r for r, _ in reasons],
            [Series("visits", [n for _, n in reasons])],
            translate_labels=True,
            translate_series=True,
        ),
        Chart(
            "leaning",
            TITLES[7],
            "bar",
            sides,
            [Series("visits", [leaning.get(s, 0) for s in sides])],
            translate_labels=True,
            translate_series=True,
        ),
        Chart(
            "promises",
            TITLES[8],
            "bar",
            statuses,
            [Series("customers", [promises.get(s, 0) for s in statuses])],
            translate_labels=True,
            translate_series=True,
        ),
    ]


def _productivity_chart(field_: repo.FieldFigures) -> Chart:
    """Per team: visits per day it was in the field, and its compliance flags."""
    teams = list(field_.per_team)
    per_team = field_.per_team
    return Chart(
        "productivity",
        TITLES[11],
        "bar",
        teams,
        [
            Series(
                "visits per active day",
                [round(per_team[t].visits / per_team[t].active_days, 1) for t in teams],
            ),
            Series("flags", [per_team[t].flags for t in teams]),
        ],
        translate_series=True,
    )


def _roll_matrix(
    connection: Connection, buckets: list[str], order: dict[str, int]
) -> RollMatrix | None:
    to_day, rows = repo.latest_rolls(connection)
    if to_day is None or not rows:
        return None
    names = sorted(
        {a for a, _, _ in rows} | {b for _, b, _ in rows} | set(buckets),
        key=lambda b: (order.get(b, 99), b),
    )
    counts = {(a, b): n for a, b, n in rows}
    totals = [sum(counts.get((a, b), 0) for b in names) for a in names]
    shares = [
        [_percent(counts.get((a, b), 0), totals[i]) for b in names] for i, a in enumerate(names)
    ]
    return RollMatrix(add_months(to_day, -1), to_day, names, shares, totals)


def _outcome_charts(
    connection: Connection, since: date, until: date, cities: repo.Cities
) -> list[Chart]:
    """Cure within 30 days (no loan past due on the 30th day) of visited customers and of
    the holdout, and what visited customers paid in those 30 days, per visit and per km."""
    cohorts = repo.outcomes_since(connection, since, until, cities)
    empty = repo.Cohort(0, 0, 0, 0, 0)
    visited, holdout = cohorts.get("visited", empty), cohorts.get("holdout", empty)
    km = visited.travel_m / 1000
    return [
        Chart(
            "cure",
            TITLES[9],
            "bar",
            ["visited", "holdout"],
            [
                Series("cured", [_percent(g.cured, g.customers) for g in (visited, holdout)]),
                Series("customers", [visited.customers, holdout.customers]),
            ],
            translate_labels=True,
            translate_series=True,
        ),
        Chart(
            "recovery",
            TITLES[10],
            "bar",
            ["per visit", "per km"],
            [
                Series(
                    "yuan",
                    [
                        visited.recovered // 100 // visited.visits if visited.visits else 0,
                        round(visited.recovered / 100 / km, 1) if km else 0,
                    ],
                )
            ],
            translate_labels=True,
        ),
    ]
