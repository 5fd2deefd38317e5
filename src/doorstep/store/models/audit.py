from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base
from doorstep.store.types import JSONDocument, UTCDateTime


class AuditHead(Base):
    """The chain's single head row: updating it first serialises writers on every database,
    so two transactions can never both extend the chain from the same event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Append-only record of a write or a reveal of personal data, chained by links keyed
    with the audit key (`domain.audit`); `key_id` names the key (NULL: a plain SHA-256
    link from before the key, until `doorstep audit resign`)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(16))


# an object's history, and a period's events (reports, retention)
Index("ix_audit_events_object", AuditEvent.object_type, AuditEvent.object_id)
Index("ix_audit_events_at", AuditEvent.at)
