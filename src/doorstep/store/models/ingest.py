from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base
from doorstep.store.types import JSONDocument, UTCDateTime


class ImportBatch(Base):
    """One applied ingestion: its files (name, SHA-256, rows) and what it changed."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    counts: Mapped[dict[str, dict[str, int]]] = mapped_column(JSONDocument)
    actor: Mapped[str] = mapped_column(String(64))


class IngestChange(Base):
    """A row that a later file changed: the fields before and after, each sealed JSON
    (names, birth years, addresses' regions: personal data)."""

    __tablename__ = "ingest_changes"
    # retention finds a customer's rows by key (services.conduct.erasure)
    __table_args__ = (Index("ix_ingest_changes_entity_key", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
