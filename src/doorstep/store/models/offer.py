"""Repayment offers (还款方案) and the schedule versions an accepted plan creates.

`installments` always holds a loan's *current* schedule, the one the delinquency batch
measures. When a borrower accepts a plan, the schedule it replaces is copied to
`archived_installments` under its version number, the plan's installments take its place,
and a `schedule_versions` row records the new version with the date it took effect. The
batch then counts only the payments made on or after that date against the new schedule
(earlier payments were settled under the old one, and the plan started from what they
left owing). A loan without a `schedule_versions` row is on its original schedule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class ScheduleVersion(Base):
    """One version of a loan's schedule: 1 is the original, each accepted plan adds one."""

    __tablename__ = "schedule_versions"
    __table_args__ = (Index("ix_schedule_versions_loan_effective", "loan_id", "effective_on"),)

    loan_id: Mapped[str] = mapped_column(
        ForeignKey("loans.loan_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_on: Mapped[date] = mapped_column(Date)  # payments from this day count against it
    source: Mapped[str] = mapped_column(String(16))  # original | restructured
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArchivedInstallment(Base):
    """An installment of a schedule version that is no longer current."""

    __tablename__ = "archived_installments"

    loan_id: Mapped[str] = mapped_column(
        ForeignKey("loans.loan_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date)
    principal_due: Mapped[int] = mapped_column(BigInteger)
    interest_due: Mapped[int] = mapped_column(BigInteger)
    fee_due: Mapped[int] = mapped_column(BigInteger, default=0)


class Offer(Timestamped, Base):
    """Plans offered to a borrower for one loan; they accept at most one.

    States: offered (waiting for a second manager when its concession is above the
    approval threshold, else open to the borrower) → approved → accepted → active →
    kept | broken; an open offer may also become expired or withdrawn. `options` holds
    every option as `domain.plans.PlanOption.to_json` computed when the offer was made:
    the borrower accepts exactly what was shown.
    """

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    debt: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # the figures it started from
    starts_on: Mapped[date] = mapped_column(Date)  # the day the debt was measured
    concession: Mapped[int] = mapped_column(BigInteger)  # fen: the largest option's waiver
    needs_approval: Mapped[bool] = mapped_column(default=False)
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_key: Mapped[str | None] = mapped_column(String(120))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    schedule_version: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept, broken, ...
    note: Mapped[str | None] = mapped_column(Text)


class PlanAgreement(Base):
    """The agreement of one plan of an offer, as the borrower reads and confirms it: the
    PDF in zh_CN and in en, rendered once when the borrower chose the plan, so what they
    confirm with the one-time code is what they download afterwards (its SHA-256 goes into
    the audit event of the confirmation). Confirming accepts the plan."""

    __tablename__ = "plan_agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id"))
    plan_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    document_zh: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read on download
    document_en: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256_zh: Mapped[str] = mapped_column(String(64))
    sha256_en: Mapped[str] = mapped_column(String(64))
