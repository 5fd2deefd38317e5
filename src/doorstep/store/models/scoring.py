"""The model registry, the scores it gave, and how far each day's population drifted.

A model version's bytes live in the row (`blob`, with their SHA-256), so a backup of the
database is a backup of every model; old versions stay loadable. At most one version per
purpose is ``active``: a partial unique index enforces it on SQLite and PostgreSQL alike.
Probabilities are integer basis points (1/10,000), never floats.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class ModelVersion(Base):
    """One trained model: what it is for, what it saw, how it measured, and its bytes."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("purpose", "version", name="uq_model_versions_purpose_version"),
        Index(
            "uq_model_versions_one_active",
            "purpose",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per purpose
    kind: Mapped[str] = mapped_column(String(16))  # scorecard | challenger
    status: Mapped[str] = mapped_column(String(16))  # candidate | active | retired
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the training data
    features: Mapped[list[str]] = mapped_column(JSONDocument)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    card: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # scoring.registry.ModelCard
    source: Mapped[str] = mapped_column(String(200))  # "book as of 2025-06-30" or a file name
    trained_by: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    blob_sha256: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Score(Base):
    """One customer's score from one model version on one as-of date, with its reasons."""

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("model_version_id", "as_of", "customer_id", name="uq_scores_model_day"),
        Index("ix_scores_purpose_as_of", "purpose", "as_of"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    probability_bp: Mapped[int] = mapped_column(Integer)  # 0..10000: P(event) x 10,000
    points: Mapped[int] = mapped_column(Integer)  # scorecard scale: higher is safer
    # [{"feature", "en", "zh_CN", "impact"}], the largest cost first (at most three)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelDrift(Base):
    """Population stability of one feature (or ``score``) on one day against training."""

    __tablename__ = "model_drift"
    __table_args__ = (
        UniqueConstraint("model_version_id", "as_of", "name", name="uq_model_drift_day_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(64))
    psi: Mapped[float] = mapped_column(Float)  # a statistic, not money
    flagged: Mapped[bool] = mapped_column(Boolean)  # psi > 0.25
    rows: Mapped[int] = mapped_column(Integer)  # scored population size
