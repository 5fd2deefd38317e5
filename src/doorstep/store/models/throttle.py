"""Counters that slow down guessing (staff passwords, portal codes), one row per key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base
from doorstep.store.types import UTCDateTime


class Throttle(Base):
    """Counted attempts on one key ("login:account:<username>", "login:address:<ip>",
    "portal:asks:<ip>", "portal:codes:<loan>") and how long it is locked; counted and
    decided in one statement (`store.repositories.throttles.claim`) so that attempts sent
    at once cannot all read the count before any of them writes it."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # last counted attempt
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
