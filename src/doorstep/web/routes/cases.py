"""Manager pages: the case list with filters and paging, a case, its actions."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain import bounds
from doorstep.domain.bounds import INT32
from doorstep.domain.case import CancelReason, CaseState, HoldReason
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import DoorstepError, Throttled
from doorstep.domain.money import parse_yuan
from doorstep.domain.reveal import quota
from doorstep.http.context import CurrentActor, DbSession, State, request_id
from doorstep.http.params import RowId
from doorstep.services import cases, visits
from doorstep.services.cases import CaseFilter, contacts, dispute_desk
from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.services.cases.view import case_facts
from doorstep.web.forms import act, error_message, error_page
from doorstep.web.i18n import language_of
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _days(text: str | None, field: str) -> int | None:
    """A DPD filter: blank is none; anything but a whole number of days is refused."""
    return bounds.whole(text, field, high=INT32) if text else None


def _fen(text: str | None, field: str) -> int | None:
    """An amount filter in yuan: blank is none; refused past what a BIGINT of fen holds."""
    return parse_yuan(text, field) if text else None


def _flag(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: Annotated[list[str] | None, Query()] = None,
    bucket: Annotated[list[str] | None, Query()] = None,
    city: str | None = None,
    district: str | None = None,
    min_dpd: str | None = None,
    max_dpd: str | None = None,
    min_amount: str | None = None,
    max_amount: str | None = None,
    on_hold: str | None = None,
    skip_trace: str | None = None,
    page: Annotated[int, Query(ge=1, le=INT32)] = 1,
) -> HTMLResponse:
    request.state.actor = actor
    f = CaseFilter(
        tuple(s for s in state or () if s),
        tuple(b for b in bucket or () if b),
        city or None,
        district or None,
        _days(min_dpd, "min_dpd"),
        _days(max_dpd, "max_dpd"),
        _fen(min_amount, "min_amount"),
        _fen(max_amount, "max_amount"),
        _flag(on_hold),
        _flag(skip_trace),
    )
    rows, total = cases.list_visible(session, actor, f, page=page, per_page=PER_PAGE)
    # The filters without the page and the empty fields: the pager links add their page.
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page" and v])
    # htmx asks for the table alone, except when it restores a page from history (it sends
    # HX-Request then too, and swaps the whole body).
    partial = bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )
    response = render(
        request,
        "cases/_table.html" if partial else "cases/list.html",
        cases=rows,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        filters=request.query_params,
        states=[s.value for s in CaseState],
        buckets=DEFAULT_BUCKETS.names[1:],
        query=query,
    )
    # One URL, two bodies: caches (and the browser's back button) must tell them apart.
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> HTMLResponse:
    request.state.actor = actor
    now, pack = state.clock.now(), state.settings.rules_pack
    try:
        facts = case_facts(session, actor, case_id, now, state.cipher)
    except DoorstepError as exc:
        return error_page(request, exc)
    return render(
        request,
        "cases/detail.html",
        f=facts,
        desk=dispute_desk.desk(session, actor, case_id, pack, now),
        dispute_kinds=[k.value for k in DisputeKind],
        dispute_outcomes=[o.value for o in DisputeOutcome],
        zone=state.settings.zone,
        hold_reasons=[h.value for h in HoldReason],
        cancel_reasons=[c.value for c in CancelReason],
        channels=[c.value for c in AttemptChannel],
        results=[r.value for r in AttemptResult],
        reveal_limits=_reveal_limits(request, state),
    )


def _reveal_limits(request: Request, state: State) -> str | None:
    """The reveal limits in the reader's language: the words of the rule enforcing them."""
    limits = quota(state.settings.rules_pack)
    if limits is None:
        return None
    zh = language_of(request).startswith("zh")
    return limits.rule.message_zh if zh else limits.rule.message_en


@router.post("/cases/{case_id}/actions")
def case_action(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    action: Annotated[str, Form()],
    reason: Annotated[str | None, Form(max_length=500)] = None,
    hold_reason: Annotated[HoldReason | None, Form()] = None,
    cancel_reason: Annotated[CancelReason | None, Form()] = None,
    version: Annotated[int | None, Form(ge=0, le=INT32)] = None,
) -> Response:
    request.state.actor = actor
    page = f"/cases/{case_id}"
    now = state.clock.now()
    return act(  # refused: a stale form, a cancel without a reason, ...
        request,
        session,
        lambda: visits.case_action(
            session,
            actor,
            case_id,
            action,
            reason=reason or None,
            hold_reason=hold_reason,
            cancel_reason=cancel_reason,
            expected_version=version,
            today=now.astimezone(state.settings.zone).date(),
            now=now,
        ),
        page,
        back=page,
    )


@router.post("/cases/{case_id}/attempts")
def case_attempt(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    point_id: Annotated[int, Form(ge=1, le=INT32)],
    channel: Annotated[AttemptChannel, Form()],
    result: Annotated[AttemptResult, Form()],
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    page = f"/cases/{case_id}"
    return act(  # refused: e.g. "moved" for a phone
        request,
        session,
        lambda: contacts.record_attempt(
            session,
            actor,
            case_id,
            point_id,
            channel,
            result,
            note or None,
            at=state.clock.now(),
            pack=state.settings.rules_pack,
            cipher=state.cipher,
        ),
        page,
        back=page,
    )


@router.post("/cases/{case_id}/reveal", response_class=HTMLResponse)
def case_reveal(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    field: Annotated[str, Form()],
    purpose: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str | None, Form(max_length=300)] = None,
    point_id: Annotated[int | None, Form(ge=1, le=INT32)] = None,
) -> HTMLResponse:
    request.state.actor = actor
    try:
        value = contacts.reveal(
            session,
            actor,
            state.cipher,
            case_id,
            field=field,
            point_id=point_id,
            purpose=purpose,
            reason=reason,
            pack=state.settings.rules_pack,
            now=state.clock.now(),
            request_id=request_id(request),
        )
    except DoorstepError as exc:
        if exc.code in ("not_found", "forbidden"):
            raise
        return render(  # in place: a missing purpose, or past the limits (429)
            request,
            "cases/_revealed.html",
            status_code=429 if isinstance(exc, Throttled) else 422,
            value=None,
            error=error_message(request, exc),
        )
    session.commit()
    return render(request, "cases/_revealed.html", value=value, error=None)
