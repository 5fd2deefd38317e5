from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped
from doorstep.store.types import JSONDocument, UTCDateTime


class Customer(Timestamped, Base):
    """The borrower, keyed by the lender's own customer id."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Personal data: ciphertext, a keyed hash to find it, and the masked form to show it.
    id_number: Mapped[str] = mapped_column(Text)
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True, default="")
    id_number_masked: Mapped[str] = mapped_column(String(18), default="")
    gender: Mapped[str] = mapped_column(String(1))
    # The year only: the birth date is digits 7-14 of the ID, which the masked form
    # hides; with it in clear the masked ID would give the whole number back.
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    employer: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class ContactPoint(Timestamped, Base):
    """A phone or an address of a customer, with where it came from and how far to trust it."""

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "kind", "value_hash", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))  # phone | address
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)  # ciphertext
    value_hash: Mapped[str] = mapped_column(String(64), index=True)  # keyed hash (HMAC)
    value_masked: Mapped[str] = mapped_column(String(64), default="")
    relation: Mapped[str | None] = mapped_column(String(32))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    # Sealed 'lat,lng' (services.conduct.personal_data) and its keyed hash, so a changed
    # position is seen without decrypting; the region stays in clear above.
    position: Mapped[str | None] = mapped_column(Text)
    position_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    confidence: Mapped[float] = mapped_column(Float)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
