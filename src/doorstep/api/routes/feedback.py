"""GET /api/feedback: what the visits found, for the lender, keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query

from doorstep.api.schemas.feedback import FeedbackItem, FeedbackPage
from doorstep.domain import bounds
from doorstep.domain.access import Permission
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services.lender import feedback

router = APIRouter(prefix="/api/feedback", tags=["feedback"])
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_since(text: str, state: State) -> datetime:
    """A date (midnight in the business time zone) or an ISO time with its zone, on a day
    inside the business's calendar (`domain.bounds`)."""
    if len(text.strip()) == 10:
        return datetime.combine(bounds.day(text, "since"), time(), state.settings.zone)
    return bounds.moment(text, "since")


@router.get("", response_model=FeedbackPage)
def feedback_feed(
    actor: CurrentActor,
    session: DbSession,
    state: State,
    since: Annotated[
        str | None, Query(max_length=40, description="YYYY-MM-DD or ISO time; empty: all")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=feedback.MAX_PAGE)] = 100,
) -> FeedbackPage:
    feedback.require(actor, Permission.READ_AUDIT)  # before judging the query
    start = parse_since(since, state) if since else EPOCH
    rows, next_cursor = feedback.feedback_page(session, actor, start, cursor=cursor, limit=limit)
    return FeedbackPage(
        items=[FeedbackItem(**feedback.feedback_record(row)) for row in rows],
        next_cursor=next_cursor,
    )
