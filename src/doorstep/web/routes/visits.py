"""The verifier's phone pages (the day, check-in/out, SOS, the interview and its
submission) and the supervisor's verdict on the case page (the alerts page is
`web.routes.alerts`)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from doorstep.domain import bounds
from doorstep.domain.access import Permission
from doorstep.domain.errors import (
    DoorstepError,
    DuplicateSubmission,
    InvalidValue,
    ReasonRequired,
    RuleBlocked,
    TooFar,
)
from doorstep.domain.reasons import REASONS
from doorstep.domain.verdict import VULNERABILITIES, NextStep
from doorstep.http.context import AppState, CurrentActor, DbSession, State, app_state, request_id
from doorstep.http.errors import status_of
from doorstep.http.limits import FORM_MAX_FIELDS, FORM_MAX_FILES
from doorstep.http.params import RowId
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import cases, visits
from doorstep.services.cases.capture import Keys
from doorstep.services.visits import alerts
from doorstep.store.models import Case
from doorstep.store.repositories import visits as visit_repo
from doorstep.web.forms import act, error_page
from doorstep.web.i18n import language_of
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _rules(state: AppState) -> visits.VisitRules:
    return visits.VisitRules.from_settings(state.settings, state.cipher)


def _store(state: AppState) -> LocalEvidenceStore:
    return LocalEvidenceStore(state.settings.var_dir / "evidence")


def _now(request: Request) -> datetime:
    """The app's clock (a fixed one in tests and replays)."""
    return app_state(request).clock.now()


def _zh(request: Request) -> bool:
    return language_of(request).startswith("zh")


def _number(text: str | None, field: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidValue(
            f"{field}: {text[:40]!r} is not a number", message_zh=f"{field}：不是数字"
        )
    return value


def _device_time(text: str | None) -> datetime | None:
    """The phone's clock: an ISO time with its offset, on a day in the calendar."""
    return bounds.moment(text, "device_time") if text and text.strip() else None


# --- The day --------------------------------------------------------------------------


@router.get("/day", response_class=HTMLResponse)
def day_page(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    date: str | None = None,
) -> Response:
    request.state.actor = actor
    rules = _rules(state)
    now = _now(request)
    try:
        on = bounds.day(date, "date") if date else now.astimezone(rules.zone).date()
    except InvalidValue as exc:
        return error_page(request, exc, back="/day")
    try:
        stops = visits.day(
            session,
            actor,
            state.cipher,
            on,
            now=now,
            request_id=request_id(request),
            pack=state.settings.rules_pack,
        )
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc, back="/cases")
    session.commit()  # the first reveals of the assignment are audited
    names = visits.customer_names(session, [s.case for s in stops])
    return render(
        request,
        "visits/day.html",
        day=on,
        stops=stops,
        names=names,
        zone=rules.zone,
        map_url=lambda stop: visits.map_link(rules.map_url, stop),
    )


# --- Check-in, check-out, SOS ---------------------------------------------------------


@router.post("/cases/{case_id}/check-in")
def check_in(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    lat: Annotated[str | None, Form()] = None,
    lng: Annotated[str | None, Form()] = None,
    accuracy: Annotated[str | None, Form()] = None,
    device_time: Annotated[str | None, Form()] = None,
    reason: Annotated[str | None, Form(max_length=300)] = None,
    partner_present: Annotated[bool, Form()] = False,
    id_shown: Annotated[bool, Form()] = False,
    recording_on: Annotated[bool, Form()] = False,
) -> Response:
    request.state.actor = actor
    rules = _rules(state)
    try:
        visit, _result = visits.check_in(
            session,
            actor,
            case_id,
            lat=_number(lat, "lat"),
            lng=_number(lng, "lng"),
            accuracy_m=_number(accuracy, "accuracy"),
            device_time=_device_time(device_time),
            rules=rules,
            now=_now(request),
            conduct=visits.Conduct(
                partner_present=partner_present, id_shown=id_shown, recording_on=recording_on
            ),
            reason=reason,
            request_id=request_id(request),
        )
    except (TooFar, RuleBlocked, ReasonRequired) as exc:
        # Nothing but the conduct rules' decision was written: keep it (it is audited).
        session.commit()
        return render(
            request,
            "visits/checkin_refused.html",
            status_code=422,
            case_id=case_id,
            code=exc.code,
            message=exc.message_zh if _zh(request) else exc.message,
            needs_reason=not isinstance(exc, RuleBlocked),
            lat=lat or "",
            lng=lng or "",
            accuracy=accuracy or "",
            conduct={
                "partner_present": partner_present,
                "id_shown": id_shown,
                "recording_on": recording_on,
            },
        )
    except DoorstepError as exc:
        session.rollback()
        return error_page(request, exc, back="/day")
    session.commit()
    return RedirectResponse(f"/visits/{visit.id}", status_code=303)


@router.post("/visits/{visit_id}/check-out")
def check_out(
    visit_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    lat: Annotated[str | None, Form()] = None,
    lng: Annotated[str | None, Form()] = None,
    device_time: Annotated[str | None, Form()] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: visits.check_out(
            session,
            actor,
            visit_id,
            lat=_number(lat, "lat"),
            lng=_number(lng, "lng"),
            device_time=_device_time(device_time),
            now=_now(request),
            cipher=app_state(request).cipher,
        ),
        f"/visits/{visit_id}",
        back=f"/visits/{visit_id}",
    )


@router.post("/visits/{visit_id}/sos")
def sos(
    visit_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    lat: Annotated[str | None, Form()] = None,
    lng: Annotated[str | None, Form()] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: alerts.sos(
            session,
            actor,
            visit_id,
            lat=_number(lat, "lat"),
            lng=_number(lng, "lng"),
            now=_now(request),
            cipher=app_state(request).cipher,
        ),
        f"/visits/{visit_id}?sos=sent",
        back=f"/visits/{visit_id}",
    )


# --- The visit and its interview ------------------------------------------------------


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(
    visit_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    rules = _rules(state)
    try:
        visit = visits.visit_of(session, actor, visit_id)
        case = cases.get_case(session, actor, visit.case_id)
    except DoorstepError as exc:
        return error_page(request, exc, back="/day")
    broken = visit_repo.broken_promises(session, case.customer_id)
    return render(
        request,
        "visits/visit.html",
        visit=visit,
        case=case,
        customer=visits.customer_name(session, case),
        reasons=REASONS,
        vulnerabilities=VULNERABILITIES,
        promise_allowed=broken < rules.max_broken_promises,
        broken=broken,
        max_mb=rules.evidence_max_bytes // (1024 * 1024),
        zone=rules.zone,
        sos_sent=request.query_params.get("sos") == "sent",
    )


def _problem(request: Request, exc: DoorstepError) -> JSONResponse:
    zh = _zh(request)
    problems = getattr(exc, "problems", [])
    # 507 Insufficient Storage: the server's fault, not the answers'; the device keeps the
    # visit and sends it again with the same key.
    status = status_of(exc)
    return JSONResponse(
        {
            "code": exc.code,
            "status": status,
            "detail": exc.message_zh if zh else exc.message,
            "errors": [
                {"field": p.field, "message": p.message_zh if zh else p.message} for p in problems
            ],
        },
        status_code=status,
        media_type="application/problem+json",
    )


async def _read_submission(
    request: Request, max_bytes: int
) -> tuple[str, dict[str, str | list[str]], list[visits.Upload]]:
    """The submission's idempotency key, answers and evidence from its multipart form;
    each file read up to one byte past the limit (enough to refuse it)."""
    form = await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS)
    answers: dict[str, str | list[str]] = {}
    uploads: list[visits.Upload] = []
    for name in set(form.keys()):
        values = form.getlist(name)
        if name == "evidence":
            for item in values:
                if isinstance(item, UploadFile) and (item.filename or item.size):
                    data = await item.read(max_bytes + 1)
                    if data:
                        uploads.append(visits.Upload(item.filename, data))
            continue
        texts = [v for v in values if isinstance(v, str)]
        answers[name] = (
            texts if name in ("reasons", "vulnerabilities") else (texts[-1] if texts else "")
        )
    key = str(answers.pop("idempotency_key", "") or "")
    answers.pop("csrf_token", None)
    return key, answers, uploads


@router.post("/visits/{visit_id}/submit")
async def submit(
    visit_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    """The interview with its evidence, sent by the page's script (multipart) with the
    device's idempotency key; answers JSON."""
    request.state.actor = actor
    rules = _rules(state)
    key, answers, uploads = await _read_submission(request, rules.evidence_max_bytes)

    def work() -> visits.Submission:
        try:
            result = visits.submit(
                session,
                actor,
                visit_id,
                key,
                answers,
                uploads,
                store=_store(state),
                rules=rules,
                now=_now(request),
                request_id=request_id(request),
                keys=Keys(state.cipher, state.hasher),
            )
            session.commit()
            return result
        except DuplicateSubmission:
            session.rollback()
            earlier = visits.submitted_with(session, actor, key)
            if earlier is None:
                raise
            return earlier
        except BaseException:
            session.rollback()
            raise

    try:
        result = await run_in_threadpool(work)
    except DoorstepError as exc:
        return _problem(request, exc)
    verdict = result.verdict
    return JSONResponse(
        {
            "visit_id": result.visit.id,
            "next_step": verdict.next_step,
            "rule": verdict.next_step_rule,
            "replayed": result.replayed,
            "redirect": f"/visits/{result.visit.id}/done",
        },
        status_code=200 if result.replayed else 201,
    )


@router.get("/visits/{visit_id}/done", response_class=HTMLResponse)
def visit_done(
    visit_id: RowId, request: Request, actor: CurrentActor, session: DbSession
) -> Response:
    request.state.actor = actor
    try:
        visit = visits.visit_of(session, actor, visit_id)
    except DoorstepError as exc:
        return error_page(request, exc, back="/day")
    verdict = visit_repo.verdict_of_visit(session, visit.id)
    return render(request, "visits/done.html", visit=visit, verdict=verdict)


# --- The supervisor: the verdict on the case page --------------------------------------


@router.get("/cases/{case_id}/verdict", response_class=HTMLResponse)
def verdict_fragment(
    case_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    view = visits.verdict_view(session, actor, case_id)
    return render(
        request,
        "visits/_verdict.html",
        view=view,
        photos=visits.photo_positions(view.evidence, state.cipher) if view else {},
        interview=visits.opened_interview(view, state.cipher) if view else None,
        case=session.get(Case, case_id),
        steps=[s.value for s in NextStep],
        can_review=actor.can(Permission.CHANGE_CASES),
        zone=_rules(state).zone,
    )


@router.post("/cases/{case_id}/verdict/review")
def verdict_review(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    override_step: Annotated[str | None, Form()] = None,
    override_reason: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    return act(
        request,
        session,
        lambda: visits.review(
            session,
            actor,
            case_id,
            override_step=override_step,
            reason=override_reason,
            now=_now(request),
        ),
        f"/cases/{case_id}#verdict",
        back=f"/cases/{case_id}",
    )


@router.post("/cases/{case_id}/verdict/close")
def verdict_close(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    reason: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    page = f"/cases/{case_id}"
    return act(
        request,
        session,
        lambda: visits.close(session, actor, case_id, reason=reason, now=_now(request)),
        page,
        back=page,
    )
