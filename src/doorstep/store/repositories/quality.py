"""Visits for the quality review, and the reviews themselves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.store.models import Visit, VisitQualityReview


def submitted_visits_between(session: Session, start: datetime, end: datetime) -> list[Visit]:
    """The visits submitted that checked in within [start, end), oldest first."""
    return list(
        session.scalars(
            select(Visit)
            .where(
                Visit.state == "submitted",
                Visit.checked_in_at >= start,
                Visit.checked_in_at < end,
            )
            .order_by(Visit.checked_in_at, Visit.id)
        )
    )


def unreviewed_visits_since(session: Session, since: datetime) -> list[Visit]:
    """The submitted visits checked in from `since` on that have no review yet."""
    reviewed = select(VisitQualityReview.visit_id)
    return list(
        session.scalars(
            select(Visit)
            .where(
                Visit.state == "submitted",
                Visit.checked_in_at >= since,
                Visit.id.not_in(reviewed),
            )
            .order_by(Visit.checked_in_at, Visit.id)
        )
    )


def review_of_visit(session: Session, visit_id: int) -> VisitQualityReview | None:
    return session.scalar(select(VisitQualityReview).where(VisitQualityReview.visit_id == visit_id))


def reviews_between(
    session: Session, start: datetime, end: datetime
) -> dict[int, VisitQualityReview]:
    """The reviews of the visits checked in within [start, end), by visit id."""
    rows = session.scalars(
        select(VisitQualityReview)
        .join(Visit, Visit.id == VisitQualityReview.visit_id)
        .where(Visit.checked_in_at >= start, Visit.checked_in_at < end)
    )
    return {r.visit_id: r for r in rows}
