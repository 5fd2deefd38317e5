"""An auditor's quality review of one sampled visit: the checklist's yes/no answers with
a note each. One review per visit (unique `visit_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, utcnow
from doorstep.store.types import JSONDocument, UTCDateTime


class VisitQualityReview(Base):
    __tablename__ = "visit_quality_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answers: Mapped[dict[str, bool]] = mapped_column(JSONDocument)  # checklist item: passed
    notes: Mapped[dict[str, str]] = mapped_column(JSONDocument)  # checklist item: note
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
