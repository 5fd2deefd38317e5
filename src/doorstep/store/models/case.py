from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class Case(Timestamped, Base):
    """One field-verification effort for one customer, covering all their overdue loans."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_priority", "state", "priority"),
        Index("ix_cases_city_district", "city", "district"),
        Index("ix_cases_city_max_dpd", "city", "max_dpd"),
        Index("ix_cases_state_opened_city", "state", "opened_on", "city"),  # the dashboard
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    hold_reason: Mapped[str | None] = mapped_column(String(32))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    opened_on: Mapped[date] = mapped_column(Date)
    as_of: Mapped[date] = mapped_column(Date)  # the delinquency date its figures come from
    max_dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(16))
    overdue_amount: Mapped[int] = mapped_column(BigInteger)  # fen
    priority: Mapped[int] = mapped_column(BigInteger)
    city: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    skip_trace: Mapped[bool] = mapped_column(default=False)
    visited_on: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic locking: every UPDATE checks and bumps the version.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# The case list's order, covering the usual filters, so a deep page needs no sort.
Index("ix_cases_list_order", Case.priority.desc(), Case.id, Case.city, Case.max_dpd)


class ContactAttempt(Base):
    """One try to confirm a contact point, and what came of it."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_point_id: Mapped[int] = mapped_column(ForeignKey("contact_points.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)  # sealed
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The contact log (conduct rules): who was contacted, in whose time, and what the rule
    # engine decided. A blocked attempt is kept with performed=False and never counts.
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    relation: Mapped[str | None] = mapped_column(String(24))
    person_zone: Mapped[str | None] = mapped_column(String(64))
    local_day: Mapped[date | None] = mapped_column(Date)  # the person's calendar day
    connected: Mapped[bool] = mapped_column(default=False)
    performed: Mapped[bool] = mapped_column(default=True)
    decision: Mapped[str | None] = mapped_column(String(8))  # allowed | warned | blocked
    rules_fired: Mapped[list[Any] | None] = mapped_column(JSONDocument)
    override_reason: Mapped[str | None] = mapped_column(Text)  # sealed (may be the note)


Index("ix_contact_attempts_customer_day", ContactAttempt.customer_id, ContactAttempt.local_day)
