from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped
from doorstep.store.types import ExactDecimal, JSONDocument


class Loan(Timestamped, Base):
    __tablename__ = "loans"

    loan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    principal: Mapped[int] = mapped_column(BigInteger)  # fen
    annual_rate: Mapped[Decimal] = mapped_column(ExactDecimal(12, 6))
    term_months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(24))
    disbursed_on: Mapped[date] = mapped_column(Date)
    first_due_on: Mapped[date] = mapped_column(Date)
    penalty_rate_daily: Mapped[Decimal] = mapped_column(ExactDecimal(12, 8))
    schedule_source: Mapped[str] = mapped_column(String(16), default="generated")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class Installment(Base):
    __tablename__ = "installments"

    loan_id: Mapped[str] = mapped_column(
        ForeignKey("loans.loan_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date)
    principal_due: Mapped[int] = mapped_column(BigInteger)
    interest_due: Mapped[int] = mapped_column(BigInteger)
    fee_due: Mapped[int] = mapped_column(BigInteger, default=0)


class Payment(Base):
    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.loan_id"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    channel: Mapped[str] = mapped_column(String(32))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
