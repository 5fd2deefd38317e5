"""The auditors' quality review: the sampled visits awaiting review, each with the
checklist's form (yes/no and a note per item) and a link to the visit itself (its
recordings, photos and interview)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.conduct import quality
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
LOOK_BACK = timedelta(days=90)
"""The page lists the sampled visits of the last 90 days that await review."""
Answer = Annotated[Literal["yes", "no"], Form()]
Note = Annotated[str, Form(max_length=quality.NOTE_MAX)]


def _sample(state: State) -> quality.Sample:
    return quality.Sample(state.settings.quality_sample, state.settings.quality_sample_key)


@router.get("/quality", response_class=HTMLResponse)
def quality_page(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    since = state.clock.now() - LOOK_BACK
    try:
        visits = quality.awaiting(session, actor, _sample(state), since)
    except DoorstepError as exc:
        return error_page(request, exc, back="/cases")
    return render(
        request,
        "quality/list.html",
        visits=visits,
        items=quality.CHECKLIST,
        share=state.settings.quality_sample,
        zone=state.settings.zone,
    )


@router.post("/quality/{visit_id}")
def review_visit(
    visit_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    identified: Answer,
    two_present: Answer,
    no_threats: Answer,
    no_disclosure: Answer,
    quiet_hours: Answer,
    identified_note: Note = "",
    two_present_note: Note = "",
    no_threats_note: Note = "",
    no_disclosure_note: Note = "",
    quiet_hours_note: Note = "",
) -> Response:
    request.state.actor = actor
    said = (identified, two_present, no_threats, no_disclosure, quiet_hours)
    answers = {item: a == "yes" for item, a in zip(quality.CHECKLIST, said, strict=True)}
    written = (identified_note, two_present_note, no_threats_note, no_disclosure_note)
    notes = dict(zip(quality.CHECKLIST, (*written, quiet_hours_note), strict=True))
    return act(
        request,
        session,
        lambda: quality.record_review(
            session, actor, visit_id, answers, notes, sample=_sample(state), now=state.clock.now()
        ),
        "/quality",
        back="/quality",
    )
