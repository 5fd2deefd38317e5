from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


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


class RestatementDue(Base):
    """Loans whose payments an ingest changed on or before a day that already has
    snapshots: the next delinquency step restates their snapshots from `from_day` on."""

    __tablename__ = "restatements_due"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id", ondelete="CASCADE"))
    from_day: Mapped[date] = mapped_column(Date)  # the earliest payment day that changed
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))


class SnapshotRestatement(Base):
    """A stored snapshot the batch of `run_as_of` recomputed and found different: the
    fields that changed, before and after, and why (the payments changed from
    `changed_from`, by the import batches named)."""

    __tablename__ = "snapshot_restatements"
    __table_args__ = (Index("ix_snapshot_restatements_loan_as_of", "loan_id", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_as_of: Mapped[date] = mapped_column(Date, index=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date)
    before: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    after: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    changed_from: Mapped[date] = mapped_column(Date)
    import_batches: Mapped[list[int]] = mapped_column(JSONDocument)
    restated_at: Mapped[datetime] = mapped_column(UTCDateTime)
