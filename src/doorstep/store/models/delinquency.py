from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import UTCDateTime


class DelinquencySnapshot(Base):
    """One loan's delinquency on one as-of date, written by the delinquency batch."""

    __tablename__ = "delinquency_snapshots"
    __table_args__ = (Index("ix_delinquency_snapshots_as_of_bucket", "as_of", "bucket"),)

    loan_id: Mapped[str] = mapped_column(
        ForeignKey("loans.loan_id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(16))
    overdue_principal: Mapped[int] = mapped_column(BigInteger)
    overdue_interest: Mapped[int] = mapped_column(BigInteger)
    overdue_fee: Mapped[int] = mapped_column(BigInteger)
    overdue_penalty: Mapped[int] = mapped_column(BigInteger)
    outstanding_principal: Mapped[int] = mapped_column(BigInteger)
    unapplied: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
