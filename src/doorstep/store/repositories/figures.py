"""The dashboard's daily aggregates: written set-based by the batch, read by the pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    Subquery,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)

from doorstep.domain.calendar import add_months
from doorstep.store.models import (
    BookFigure,
    Case,
    ContactPoint,
    DelinquencySnapshot,
    FieldFigure,
    FieldFigureDay,
    Loan,
    OutcomeFigure,
    Payment,
    PlanStop,
    PromiseToPay,
    RollFigure,
    Team,
    Verdict,
    Visit,
    VisitOutcome,
)


def _customer_city() -> Subquery:
    """One city per customer: the first (by name) of their address cities."""
    return (
        select(ContactPoint.customer_id, func.min(ContactPoint.city).label("city"))
        .where(ContactPoint.channel == "address", ContactPoint.city.is_not(None))
        .group_by(ContactPoint.customer_id)
        .subquery("customer_city")
    )


def _insert_from(connection: Connection, table: Any, columns: list[str], query: Any) -> int:
    """INSERT … SELECT; returns the rows written (SQLAlchemy keeps an INSERT's rowcount
    only when asked to: without it psycopg's -1 reached the batch's counts)."""
    statement = insert(table).from_select(columns, query)
    result = connection.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount, 0)


def write_book_figures(connection: Connection, as_of: date) -> int:
    """Replace `as_of`'s book figures from its snapshots; returns the rows written."""
    s = DelinquencySnapshot
    city = _customer_city()
    city_name = func.coalesce(city.c.city, "")
    overdue = s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty
    connection.execute(delete(BookFigure).where(BookFigure.as_of == as_of))
    query = (
        select(
            s.as_of,
            city_name,
            s.bucket,
            func.count(),
            func.sum(overdue),
            func.sum(s.outstanding_principal),
        )
        .join(Loan, Loan.loan_id == s.loan_id)
        .outerjoin(city, city.c.customer_id == Loan.customer_id)
        .where(s.as_of == as_of)
        .group_by(s.as_of, city_name, s.bucket)
    )
    columns = ["as_of", "city", "bucket", "loans", "overdue", "outstanding"]
    return _insert_from(connection, BookFigure, columns, query)


def write_roll_figures(connection: Connection, to_as_of: date) -> int:
    """Bucket-to-bucket moves from a month before `to_as_of` (when that day has
    snapshots) to `to_as_of`; returns the rows written (0 without an earlier day)."""
    from_as_of = add_months(to_as_of, -1)
    a, b = DelinquencySnapshot.__table__.alias("a"), DelinquencySnapshot.__table__.alias("b")
    connection.execute(
        delete(RollFigure).where(
            RollFigure.from_as_of == from_as_of, RollFigure.to_as_of == to_as_of
        )
    )
    if not connection.scalar(select(exists().where(a.c.as_of == from_as_of))):
        return 0
    query = (
        select(
            literal(from_as_of),
            literal(to_as_of),
            a.c.bucket,
            b.c.bucket,
            func.count(),
            func.sum(a.c.outstanding_principal),
        )
        .join(b, (b.c.loan_id == a.c.loan_id) & (b.c.as_of == to_as_of))
        .where(a.c.as_of == from_as_of)
        .group_by(a.c.bucket, b.c.bucket)
    )
    columns = ["from_as_of", "to_as_of", "from_bucket", "to_bucket", "loans", "balance"]
    return _insert_from(connection, RollFigure, columns, query)


# --- reads for the dashboard -------------------------------------------------------------

Cities = Sequence[str] | None
"""The cities to count; None: all of them."""


def book_series(
    connection: Connection, since: date, until: date, cities: Cities
) -> list[tuple[date, str, int, int]]:
    """(as_of, bucket, loans, overdue fen) per day from `since` to `until`, in `cities`
    (None: all)."""
    f = BookFigure
    query = (
        select(f.as_of, f.bucket, func.sum(f.loans), func.sum(f.overdue))
        .where(f.as_of >= since, f.as_of <= until)
        .group_by(f.as_of, f.bucket)
        .order_by(f.as_of, f.bucket)
    )
    if cities is not None:
        query = query.where(f.city.in_(cities))
    return [(d, b, int(n), int(o)) for d, b, n, o in connection.execute(query)]


def latest_day(connection: Connection) -> date | None:
    """The latest day the batch aggregated the book for."""
    return connection.scalar(select(func.max(BookFigure.as_of)))


def book_cities(connection: Connection) -> list[str]:
    latest = select(func.max(BookFigure.as_of)).scalar_subquery()
    return list(
        connection.scalars(
            select(BookFigure.city)
            .where(BookFigure.as_of == latest)
            .distinct()
            .order_by(BookFigure.city)
        )
    )


def latest_rolls(connection: Connection) -> tuple[date | None, list[tuple[str, str, int]]]:
    """The latest month-on-month roll: its date and (from, to, loans) rows."""
    latest = connection.scalar(select(func.max(RollFigure.to_as_of)))
    if latest is None:
        return None, []
    rows = connection.execute(
        select(RollFigure.from_bucket, RollFigure.to_bucket, RollFigure.loans).where(
            RollFigure.to_as_of == latest
        )
    )
    return latest, [(a, b, int(n)) for a, b, n in rows]


def cases_by_state_and_opening(
    connection: Connection, cities: Cities
) -> list[tuple[str, date, int]]:
    query = select(Case.state, Case.opened_on, func.count()).group_by(Case.state, Case.opened_on)
    if cities is not None:
        query = query.where(Case.city.in_(cities))
    rows = connection.execute(query)
    return [(s, d, int(n)) for s, d, n in rows]


@dataclass(frozen=True)
class TeamFigures:
    visits: int
    reached: int
    address_valid: int
    flags: int
    active_days: int


@dataclass(frozen=True)
class FieldFigures:
    """Visits of a period, from the batch's daily rows and a live count of the days
    not written yet (a year of a big field team is hundreds of thousands of visits:
    they are never loaded one by one)."""

    per_day: dict[date, int]
    per_team: dict[str, TeamFigures]
    judged: int  # visits with a verdict
    reached: int
    address_valid: int
    leaning: dict[str, int]
    reasons: dict[str, int]  # primary reason of default


FIELD_WINDOW_DAYS = 35
"""Each batch rewrites this many finished days: verdicts submitted or overridden late
(a promise judged, a manager's review) are counted in their visit's day."""


def _local_day(connection: Connection, column: Any, zone: ZoneInfo, on: date) -> Any:
    """The business day of a stored UTC time. SQLite has no zone database: it shifts by
    the zone's offset on `on`, which is exact for visits, since they happen between 08:00
    and 22:00 local time and a DST hour can never move one across midnight."""
    if connection.dialect.name == "postgresql":
        return func.date(func.timezone(zone.key, column))
    offset = datetime.combine(on, time(12), tzinfo=zone).utcoffset() or timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _field_query(connection: Connection, day: Any, start: datetime, end: datetime) -> Any:
    """Visits checked in within [start, end) grouped by `day` (an expression, or a
    literal when the range is one day), city, team, leaning and reason, with the
    measures of `FieldFigure` in its column order."""
    json_length = (
        func.jsonb_array_length
        if connection.dialect.name == "postgresql"
        else func.json_array_length
    )
    city = func.coalesce(Case.city, "")
    leaning = func.coalesce(Verdict.hardship_or_evasion, "")
    reason = func.coalesce(Verdict.primary_reason, "")
    keys = [city, Team.name, leaning, reason]
    return (
        select(
            day,
            *keys,
            func.count(Visit.id),
            func.count(Verdict.id),
            func.sum(case((Verdict.reached.is_(True), 1), else_=0)),
            func.sum(case((Verdict.address_status == "valid", 1), else_=0)),
            func.sum(func.coalesce(json_length(Visit.flags), 0)),
        )
        .select_from(Visit)
        .join(Case, Case.id == Visit.case_id)
        .join(Team, Team.id == Visit.team_id)
        .outerjoin(Verdict, Verdict.visit_id == Visit.id)
        .where(Visit.checked_in_at >= start, Visit.checked_in_at < end)
        .group_by(*([] if isinstance(day, BindParameter) else [day]), *keys)
    )


FIELD_COLUMNS = [
    "day",
    "city",
    "team",
    "leaning",
    "reason",
    "visits",
    "judged",
    "reached",
    "address_valid",
    "flags",
]


def write_field_figures(
    connection: Connection, as_of: date, zone: tzinfo, window: int = FIELD_WINDOW_DAYS
) -> int:
    """Rewrite the field figures of the finished days before `as_of`: the last `window`
    days, and on the first run every day since the first visit. Returns rows written."""
    last = as_of - timedelta(days=1)
    first = last - timedelta(days=window - 1)
    if connection.scalar(select(func.count()).select_from(FieldFigureDay)) == 0:
        earliest = connection.scalar(select(func.min(Visit.checked_in_at)))
        if earliest is not None:
            first = min(first, earliest.astimezone(zone).date())
    connection.execute(delete(FieldFigure).where(FieldFigure.day.between(first, last)))
    connection.execute(delete(FieldFigureDay).where(FieldFigureDay.day.between(first, last)))
    written = 0
    day = first
    while day <= last:
        start = _day_start(day, zone)
        query = _field_query(
            connection,
            literal(day, Date),
            start,
            _day_start(day + timedelta(days=1), zone),
        )
        written += _insert_from(connection, FieldFigure, FIELD_COLUMNS, query)
        day += timedelta(days=1)
    days = [{"day": first + timedelta(days=n)} for n in range((last - first).days + 1)]
    if days:
        connection.execute(insert(FieldFigureDay), days)
    return written


def _missing_runs(first: date, last: date, written: set[date]) -> list[tuple[date, date]]:
    """The runs of consecutive days in [first, last] that are not in `written`."""
    runs: list[tuple[date, date]] = []
    day = first
    while day <= last:
        if day in written:
            day += timedelta(days=1)
            continue
        run_start = day
        while day <= last and day not in written:
            day += timedelta(days=1)
        runs.append((run_start, day - timedelta(days=1)))
    return runs


class _FieldTotals:
    """Adds up the field from the stored daily rows (already summed in SQL) and from the
    live rows of the days not written yet (summed here: a day or two of visits)."""

    def __init__(self) -> None:
        self.per_day: dict[date, int] = {}
        self.teams: dict[str, list[int]] = {}  # visits, reached, address valid, flags, days
        self.mix: dict[tuple[str, str], list[int]] = {}  # judged, reached, address valid

    def add_day(self, day: date | str, visits: int) -> None:
        on = day if isinstance(day, date) else date.fromisoformat(day)
        self.per_day[on] = self.per_day.get(on, 0) + int(visits)

    def add_team(self, team: str, *measures: int) -> None:
        totals = self.teams.setdefault(team, [0, 0, 0, 0, 0])
        for n, value in enumerate(measures):
            totals[n] += int(value or 0)

    def add_mix(self, leaning: str, reason: str, *measures: int) -> None:
        totals = self.mix.setdefault((leaning, reason), [0, 0, 0])
        for n, value in enumerate(measures):
            totals[n] += int(value or 0)

    def add_live(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows of `_field_query`: day, city, team, leaning, reason and the measures."""
        team_days: set[tuple[str, Any]] = set()
        for day, _, team, leaning, reason, visits, judged, reached, valid, flags in rows:
            self.add_day(day, visits)
            self.add_team(team, visits, reached, valid, flags, (team, day) not in team_days)
            team_days.add((team, day))
            self.add_mix(leaning, reason, judged, reached, valid)

    def figures(self) -> FieldFigures:
        leaning: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for (side, reason), (judged, _, _) in self.mix.items():
            if side and judged:
                leaning[side] = leaning.get(side, 0) + judged
            if reason and judged:
                reasons[reason] = reasons.get(reason, 0) + judged
        return FieldFigures(
            per_day=dict(sorted(self.per_day.items())),
            per_team={t: TeamFigures(*v) for t, v in sorted(self.teams.items())},
            judged=sum(m[0] for m in self.mix.values()),
            reached=sum(m[1] for m in self.mix.values()),
            address_valid=sum(m[2] for m in self.mix.values()),
            leaning=leaning,
            reasons=reasons,
        )


def field_figures(
    connection: Connection, first: date, last: date, cities: Cities, zone: ZoneInfo
) -> FieldFigures:
    """The field from `first` to `last` (local days) in `cities` (None: all)."""
    f = FieldFigure
    where = [f.day.between(first, last)]
    if cities is not None:
        where.append(f.city.in_(cities))
    totals = _FieldTotals()
    for day, visits in connection.execute(
        select(f.day, func.sum(f.visits)).where(*where).group_by(f.day)
    ):
        totals.add_day(day, visits)
    for team, *measures in connection.execute(
        select(
            f.team,
            func.sum(f.visits),
            func.sum(f.reached),
            func.sum(f.address_valid),
            func.sum(f.flags),
            func.count(func.distinct(f.day)),
        )
        .where(*where)
        .group_by(f.team)
    ):
        totals.add_team(team, *measures)
    for leaning, reason, *measures in connection.execute(
        select(
            f.leaning,
            f.reason,
            func.sum(f.judged),
            func.sum(f.reached),
            func.sum(f.address_valid),
        )
        .where(*where)
        .group_by(f.leaning, f.reason)
    ):
        totals.add_mix(leaning, reason, *measures)
    written = set(
        connection.scalars(
            select(FieldFigureDay.day).where(FieldFigureDay.day.between(first, last))
        )
    )
    for run_first, run_last in _missing_runs(first, last, written):  # counted live
        day = _local_day(connection, Visit.checked_in_at, zone, run_first)
        end = _day_start(run_last + timedelta(days=1), zone)
        live = _field_query(connection, day, _day_start(run_first, zone), end)
        if cities is not None:
            live = live.where(Case.city.in_(cities))
        totals.add_live(list(connection.execute(live)))
    return totals.figures()


def promise_statuses(
    connection: Connection, since: date, until: date, cities: Cities
) -> dict[str, int]:
    query = (
        select(PromiseToPay.status, func.count())
        .join(Case, Case.id == PromiseToPay.case_id)
        .where(PromiseToPay.due_on >= since, PromiseToPay.due_on <= until)
        .group_by(PromiseToPay.status)
    )
    if cities is not None:
        query = query.where(Case.city.in_(cities))
    rows = connection.execute(query)
    return {status: int(n) for status, n in rows}


def write_visit_outcomes(connection: Connection, as_of: date, zone: tzinfo, days: int) -> int:
    """Outcomes of the visits (and holdouts) of the day `days` before `as_of`, judged
    from `as_of`'s snapshots and the payments in between; replaces that day's rows."""
    day = as_of - timedelta(days=days)
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = start + timedelta(days=1)
    visited = connection.execute(
        select(
            Case.customer_id,
            Case.city,
            func.count(),
            func.coalesce(func.sum(PlanStop.travel_m), 0),
        )
        .select_from(Visit)
        .join(Case, Case.id == Visit.case_id)
        .outerjoin(PlanStop, PlanStop.id == Visit.plan_stop_id)
        .where(Visit.checked_in_at >= start, Visit.checked_in_at < end)
        .group_by(Case.customer_id, Case.city)
    ).all()
    held = connection.execute(
        select(Case.customer_id, Case.city)
        .where(Case.cancel_reason == "holdout", Case.opened_on == day)
        .distinct()
    ).all()
    connection.execute(delete(VisitOutcome).where(VisitOutcome.day == day))
    people = [(c, city or "", "visited", int(n), int(m)) for c, city, n, m in visited]
    people += [(c, city or "", "holdout", 0, 0) for c, city in held]
    if not people:
        roll_up_outcomes(connection, day, day)
        return 0
    worst = _worst_dpd(connection, sorted({p[0] for p in people}), as_of)
    paid = _paid(connection, sorted({p[0] for p in people}), day, as_of)
    rows = [
        {
            "day": day,
            "customer_id": customer,
            "cohort": cohort,
            "city": city,
            "cured": worst.get(customer, 0) == 0,
            "recovered": paid.get(customer, 0),
            "visits": visits,
            "travel_m": travel,
        }
        for customer, city, cohort, visits, travel in people
    ]
    connection.execute(insert(VisitOutcome), rows)
    roll_up_outcomes(connection, day, day)
    return len(rows)


def _chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[n : n + size] for n in range(0, len(items), size)]  # bounded IN lists


def _worst_dpd(connection: Connection, customers: Sequence[str], as_of: date) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(customers):
        rows = connection.execute(
            select(Loan.customer_id, func.max(DelinquencySnapshot.dpd))
            .join(Loan, Loan.loan_id == DelinquencySnapshot.loan_id)
            .where(Loan.customer_id.in_(chunk), DelinquencySnapshot.as_of == as_of)
            .group_by(Loan.customer_id)
        )
        found.update({c: int(dpd) for c, dpd in rows})
    return found


def _paid(
    connection: Connection, customers: Sequence[str], first: date, last: date
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(customers):
        rows = connection.execute(
            select(Loan.customer_id, func.sum(Payment.amount))
            .join(Loan, Loan.loan_id == Payment.loan_id)
            .where(Loan.customer_id.in_(chunk), Payment.paid_on.between(first, last))
            .group_by(Loan.customer_id)
        )
        found.update({c: int(total) for c, total in rows})
    return found


@dataclass(frozen=True)
class Cohort:
    customers: int
    cured: int
    recovered: int  # fen
    visits: int
    travel_m: int


def roll_up_outcomes(connection: Connection, first: date, last: date) -> int:
    """Rewrite the outcome figures of the days `first`..`last` from `visit_outcomes`."""
    o = VisitOutcome
    connection.execute(delete(OutcomeFigure).where(OutcomeFigure.day.between(first, last)))
    query = (
        select(
            o.day,
            o.city,
            o.cohort,
            func.count(),
            func.sum(case((o.cured.is_(True), 1), else_=0)),
            func.sum(o.recovered),
            func.sum(o.visits),
            func.sum(o.travel_m),
        )
        .where(o.day.between(first, last))
        .group_by(o.day, o.city, o.cohort)
    )
    columns = ["day", "city", "cohort", "customers", "cured", "recovered", "visits", "travel_m"]
    return _insert_from(connection, OutcomeFigure, columns, query)


def outcomes_since(
    connection: Connection, since: date, until: date, cities: Cities
) -> dict[str, Cohort]:
    o = OutcomeFigure
    query = (
        select(
            o.cohort,
            func.sum(o.customers),
            func.sum(o.cured),
            func.sum(o.recovered),
            func.sum(o.visits),
            func.sum(o.travel_m),
        )
        .where(o.day >= since, o.day <= until)
        .group_by(o.cohort)
    )
    if cities is not None:
        query = query.where(o.city.in_(cities))
    return {
        cohort: Cohort(int(n), int(cured or 0), int(paid or 0), int(v or 0), int(m or 0))
        for cohort, n, cured, paid, v, m in connection.execute(query)
    }
