"""The visit and what comes of it: check-in/out, interview, evidence, verdict, promise.

A visit is submitted once: the device's idempotency key is unique, so a retried or
double submission finds the first visit instead of making a second.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class Visit(Timestamped, Base):
    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_team_checked_in", "team_id", "checked_in_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    plan_stop_id: Mapped[int | None] = mapped_column(ForeignKey("plan_stops.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    verifier_ids: Mapped[list[int]] = mapped_column(JSONDocument)  # both verifiers
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # checked_in | checked_out | submitted
    # check-in: the server's time, the device's time and position (with its accuracy)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device_checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[str | None] = mapped_column(Text)  # sealed 'lat,lng'
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[int | None] = mapped_column(Integer)  # to the planned address
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    out_position: Mapped[str | None] = mapped_column(Text)  # sealed 'lat,lng'
    flags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # e.g. far_from_address
    met: Mapped[str | None] = mapped_column(String(16))  # borrower | family | colleague | nobody
    # The structured answers and the check-in's note, sealed JSON: health, income,
    # dependants and what family members said are only read through the cipher.
    interview: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Evidence(Base):
    """A photo or recording, stored content-addressed (SHA-256 is its name)."""

    __tablename__ = "visit_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str | None] = mapped_column(String(255))
    exif_position: Mapped[str | None] = mapped_column(Text)  # sealed 'lat,lng' of the photo
    exif_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Verdict(Timestamped, Base):
    """核实结论: what the visit established and what should happen next."""

    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    reached: Mapped[bool] = mapped_column(Boolean)
    address_status: Mapped[str] = mapped_column(String(16))  # valid | invalid | moved
    primary_reason: Mapped[str | None] = mapped_column(String(32))  # DESIGN §2 taxonomy
    reasons: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    hardship_or_evasion: Mapped[str] = mapped_column(String(16))  # hardship | evasion | unclear
    advice: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)  # rule/model advice
    ability_per_month: Mapped[int | None] = mapped_column(BigInteger)  # fen
    willingness: Mapped[int | None] = mapped_column(Integer)  # 1..5
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=False)
    next_step: Mapped[str] = mapped_column(String(32))  # from the rule table
    next_step_rule: Mapped[str | None] = mapped_column(String(64))  # which row decided
    override_step: Mapped[str | None] = mapped_column(String(32))
    override_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PromiseToPay(Timestamped, Base):
    """承诺还款, judged by the batch from later payments (kept / partly kept / broken)."""

    __tablename__ = "promises_to_pay"
    __table_args__ = (Index("ix_promises_status_due", "status", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # open | kept | partly_kept | broken
    paid: Mapped[int] = mapped_column(BigInteger, default=0)  # fen counted towards it
    judged_on: Mapped[date | None] = mapped_column(Date)


class Alert(Base):
    """Something a supervisor must see now: a visit not checked out in time, an SOS."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "resolved_at", "raised_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # overdue_checkout | sos | ...
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    position: Mapped[str | None] = mapped_column(Text)  # sealed 'lat,lng'
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# dashboards: visits and promises of a period, whatever the team or status
Index("ix_visits_checked_in_at", Visit.checked_in_at)
Index("ix_promises_due_on", PromiseToPay.due_on)
