"""Work that follows a case: tasks with an owner and a due day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.store.models.base import Base, Timestamped
from doorstep.store.types import UTCDateTime


class CaseTask(Timestamped, Base):
    """One piece of work on a case (`domain.tasks`): who owns it, by when, what came of it."""

    __tablename__ = "case_tasks"
    __table_args__ = (Index("ix_case_tasks_state_due", "state", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("promises_to_pay.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # open | done | cancelled
    result: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # overdue alert raised
