from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class CaseHold(Base):
    """One hold on a case: its type, when it started, when it ends (by its end rule or when
    lifted) and who lifted it. `cases.hold_reason` mirrors the active one."""

    __tablename__ = "case_holds"
    __table_args__ = (Index("ix_case_holds_case_active", "case_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    type: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by its end rule
    note: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class CustomerHold(Base):
    """A hold that belongs to the customer, not to a case: what the borrower told us (a
    hardship, a complaint, a dispute, no visits at work) holds whether or not a case is
    open, until it ends (`ends_at`) or is resolved (`lifted_at`, with its `outcome`).
    `respond_by` is when a complaint or a dispute must be answered; `escalated_at` when
    the alert that it is late was raised."""

    __tablename__ = "customer_holds"
    __table_args__ = (Index("ix_customer_holds_active", "customer_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(32))  # hardship_reported | complaint | dispute | ...
    detail: Mapped[str | None] = mapped_column(String(32))  # a dispute's kind
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lift_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleDecision(Base):
    """A blocked or warned decision of the conduct-rule engine, and the reason given when a
    warned action went ahead."""

    __tablename__ = "rule_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(8))
    rules: Mapped[list[Any]] = mapped_column(JSONDocument)  # [{id, severity, why}]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    performed: Mapped[bool] = mapped_column(default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    jurisdiction: Mapped[str] = mapped_column(String(8))
