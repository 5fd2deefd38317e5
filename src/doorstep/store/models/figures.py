"""Daily aggregates the dashboard reads, written by the batch's `figures` step.

The book has millions of loans and a snapshot per loan per day; the dashboard needs a
few hundred numbers. Aggregating once per day in the batch keeps every dashboard query
small, whatever the size of the book.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base


class BookFigure(Base):
    """The book on one day, by city and bucket (current loans in the current bucket)."""

    __tablename__ = "book_figures"

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    city: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" when unknown
    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    loans: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(BigInteger)  # fen
    outstanding: Mapped[int] = mapped_column(BigInteger)  # fen, principal


class RollFigure(Base):
    """Loans moving between buckets from one snapshot date to a later one (a month on)."""

    __tablename__ = "roll_figures"

    from_as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    to_as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    from_bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    to_bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    loans: Mapped[int] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(BigInteger)  # fen outstanding at from_as_of


class VisitOutcome(Base):
    """What became of a visited customer, or of one kept back as holdout, 30 days on.

    Written by the batch on the 30th day (when that day's snapshots exist), so the
    dashboard compares the two groups by summing rows instead of replaying the book.
    """

    __tablename__ = "visit_outcomes"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # visit (or holdout) day
    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cohort: Mapped[str] = mapped_column(String(16), primary_key=True)  # visited | holdout
    city: Mapped[str] = mapped_column(String(32))
    cured: Mapped[bool] = mapped_column(Boolean)  # no loan past due on day + 30
    recovered: Mapped[int] = mapped_column(BigInteger)  # fen paid in [day, day + 30]
    visits: Mapped[int] = mapped_column(Integer)
    travel_m: Mapped[int] = mapped_column(BigInteger)  # planned driving to those visits


class OutcomeFigure(Base):
    """`visit_outcomes` summed per day, city and cohort: what the dashboard reads."""

    __tablename__ = "outcome_figures"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city: Mapped[str] = mapped_column(String(32), primary_key=True)
    cohort: Mapped[str] = mapped_column(String(16), primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    cured: Mapped[int] = mapped_column(Integer)
    recovered: Mapped[int] = mapped_column(BigInteger)  # fen
    visits: Mapped[int] = mapped_column(Integer)
    travel_m: Mapped[int] = mapped_column(BigInteger)


class FieldFigure(Base):
    """The field on one local day, by city, team, leaning and reason for default.

    Written by the batch for finished days (a rolling window, so late verdicts and
    overrides are counted); the dashboard sums these rows and counts only the days after
    the last written one live.
    """

    __tablename__ = "field_figures"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" when unknown
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    leaning: Mapped[str] = mapped_column(String(16), primary_key=True)  # "" without verdict
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" when none
    visits: Mapped[int] = mapped_column(Integer)
    judged: Mapped[int] = mapped_column(Integer)  # with a verdict
    reached: Mapped[int] = mapped_column(Integer)
    address_valid: Mapped[int] = mapped_column(Integer)
    flags: Mapped[int] = mapped_column(Integer)  # check-in flags raised


class FieldFigureDay(Base):
    """A day whose field figures are written (also when nobody was visited that day)."""

    __tablename__ = "field_figure_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
