"""The field's figures: visits per day, city, team, leaning and reason, written for the
finished days by the batch and counted live for the days not written yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Connection, Date, case, delete, func, insert, literal, select

from doorstep.store.models import Case, FieldFigure, FieldFigureDay, Team, Verdict, Visit
from doorstep.store.repositories.figures._shared import Cities, day_start, insert_from


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
        start = day_start(day, zone)
        query = _field_query(
            connection,
            literal(day, Date),
            start,
            day_start(day + timedelta(days=1), zone),
        )
        written += insert_from(connection, FieldFigure, FIELD_COLUMNS, query)
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
        end = day_start(run_last + timedelta(days=1), zone)
        live = _field_query(connection, day, day_start(run_first, zone), end)
        if cities is not None:
            live = live.where(Case.city.in_(cities))
        totals.add_live(list(connection.execute(live)))
    return totals.figures()
