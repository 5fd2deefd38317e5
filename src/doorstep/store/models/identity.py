"""Customers the lender sent under different customer numbers with the same national ID.

Ingest never merges them: each stays its own customer with its own loans and case, and
the pair is linked here (found by the keyed lookup hash of the ID, never by clear text)
so a manager sees, on either case, that the other exists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base
from doorstep.store.types import UTCDateTime


class IdentityLink(Base):
    """Two customer numbers sharing one national ID; the pair is stored once, lower id
    first, with the file row that showed it."""

    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("customer_id", "other_customer_id"),
        CheckConstraint("customer_id < other_customer_id", name="ordered_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    other_customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True
    )
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    file: Mapped[str] = mapped_column(String(200))
    line: Mapped[int | None] = mapped_column(Integer)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)
