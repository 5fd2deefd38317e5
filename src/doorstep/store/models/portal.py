"""The borrower portal: one-time codes, borrower sessions, what borrowers tell us, the
visit windows they book, and how often each education page is read."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Date, ForeignKey, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import UTCDateTime


class PortalCode(Base):
    """A one-time sign-in code sent to the loan's mobile; only its keyed hash is kept."""

    __tablename__ = "portal_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(64))  # who asked (throttling)


class PortalSession(Base):
    """A signed-in borrower: the cookie holds a random token, this row its hash."""

    __tablename__ = "portal_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id"))  # the one signed in with
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BorrowerMessage(Base):
    """Something a borrower told us through the portal, and the alert it raises for the
    case owner: kind is hardship | callback | address | no_work_visit | complaint."""

    __tablename__ = "borrower_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(40))  # reason-for-default taxonomy
    statement: Mapped[str | None] = mapped_column(Text)  # sealed: the borrower's own words
    call_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class VisitSlot(Base):
    """A window in which the borrower says a visit suits them (their own booking).

    For the planner: a customer's slots with `cancelled_at IS NULL` and `day` on the plan
    date are their time windows for that day, `start`–`end` in the business time zone
    (`Settings.timezone`); a customer with no slot that day has no stated window. A new
    booking for the same day cancels the earlier one, so there is at most one live slot
    per customer and day.
    """

    __tablename__ = "visit_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    source: Mapped[str] = mapped_column(String(16), default="portal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LearnRead(Base):
    """How many times an education page was read, per language: counts only."""

    __tablename__ = "learn_reads"

    page: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    reads: Mapped[int] = mapped_column(Integer, default=0)
