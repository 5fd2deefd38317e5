"""Privacy requests (PIPL Arts 44–50) and the numbers never to contact again.

Whatever identifies the person who asks (a third party's phone and name, what they want
corrected, how their identity was checked) is stored as ciphertext with the personal-data
cipher; a phone also as its keyed hash (to find the contact points) and masked form."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class PrivacyRequest(Timestamped, Base):
    """A request to see, correct or delete one's data or withdraw consent: who asked and
    how they were identified, when it came and by when it is due, where it stands, and
    the legal holds that refused or deferred it. Each step is an audit event filed under
    ("privacy_request", id)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_state_due", "state", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(16))  # borrower | third_party
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.customer_id"), index=True
    )  # the borrower, or the one whose contact a third party is (when known)
    phone: Mapped[str | None] = mapped_column(Text)  # third party: ciphertext
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_masked: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str | None] = mapped_column(Text)  # third party: ciphertext
    kind: Mapped[str] = mapped_column(String(24))  # access | correct | delete | withdraw_consent
    received_via: Mapped[str] = mapped_column(String(16))
    details: Mapped[str | None] = mapped_column(Text)  # ciphertext: what they ask, in words
    identified_by: Mapped[str | None] = mapped_column(String(24))
    identity_note: Mapped[str | None] = mapped_column(Text)  # ciphertext
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_on: Mapped[date] = mapped_column(Date)  # the business day
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    holds: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument)
    hold_lapses_on: Mapped[date | None] = mapped_column(Date)
    refusal: Mapped[str | None] = mapped_column(Text)  # the reasons given (Art. 50)
    outcome: Mapped[str | None] = mapped_column(Text)  # what was done
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # two staff acting on one request at once: the second write fails, not overwrites
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ContactSuppression(Base):
    """A number whose holder had it deleted: its keyed hash only. A contact point with
    this hash (the old one, or the same number sent again by the lender) is never
    contacted again."""

    __tablename__ = "contact_suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))  # phone
    value_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("privacy_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
