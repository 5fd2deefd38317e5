"""The book's figures: overdue loans and amounts per day, city and bucket, and the
month-on-month roll between buckets (written from the day's snapshots)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Subquery, delete, exists, func, literal, select

from doorstep.domain.calendar import add_months
from doorstep.store.models import BookFigure, ContactPoint, DelinquencySnapshot, Loan, RollFigure
from doorstep.store.repositories.figures._shared import Cities, insert_from


def _customer_city() -> Subquery:
    """One city per customer: the first (by name) of their address cities."""
    return (
        select(ContactPoint.customer_id, func.min(ContactPoint.city).label("city"))
        .where(ContactPoint.channel == "address", ContactPoint.city.is_not(None))
        .group_by(ContactPoint.customer_id)
        .subquery("customer_city")
    )


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
    return insert_from(connection, BookFigure, columns, query)


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
    return insert_from(connection, RollFigure, columns, query)


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
