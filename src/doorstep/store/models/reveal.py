"""What limits reveals of personal data: each person's running counts, and requests for
many cases at once that wait for a second person's approval."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class RevealCounter(Base):
    """One row per person: reveals on `day` (the business day) and in the fixed window
    numbered `window_no`. Only `store.repositories.reveals.take` changes it, with one
    conditional UPDATE, so concurrent reveals never pass a limit."""

    __tablename__ = "reveal_counters"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    day_count: Mapped[int] = mapped_column(Integer, default=0)
    window_no: Mapped[int] = mapped_column(BigInteger, default=0)
    window_count: Mapped[int] = mapped_column(Integer, default=0)


class RevealRequest(Base):
    """A request to reveal one field of many cases at once: above the pack's threshold it
    waits (`pending`) for another manager's or an auditor's decision (`approved` until
    `approved_until`, or `refused`); the requester then uses it once (`used`)."""

    __tablename__ = "reveal_requests"
    __table_args__ = (Index("ix_reveal_requests_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    requester: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    case_ids: Mapped[list[Any]] = mapped_column(JSONDocument)
    cities: Mapped[list[Any]] = mapped_column(JSONDocument)  # of the cases: who may decide
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    approved_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
