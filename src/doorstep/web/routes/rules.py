"""Conduct-rule pages for admins, managers and auditors: the effective pack with where each
value came from, and the compliance report (page and CSV)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services.conduct import rules as conduct
from doorstep.services.conduct.quality import Sample
from doorstep.web.forms import day_field, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _report(
    actor: CurrentActor, session: DbSession, state: State, start: str | None, end: str | None
) -> conduct.ComplianceReport:
    """The report of the period asked, by default the 30 days to today."""
    pack = state.settings.rules_pack
    today = state.clock.now().astimezone(pack.default_zone).date()
    last = day_field(end, "end") if end else today
    first = day_field(start, "start") if start else last - timedelta(days=29)
    settings = state.settings
    sample = Sample(settings.quality_sample, settings.quality_sample_key)
    return conduct.compliance_report(session, actor, first, last, pack=pack, sample=sample)


@router.get("/rules", response_class=HTMLResponse)
def pack_page(request: Request, actor: CurrentActor, state: State) -> HTMLResponse:
    request.state.actor = actor
    try:
        conduct.require_reader(actor)
    except DoorstepError as exc:
        return error_page(request, exc)
    pack = state.settings.rules_pack
    return render(request, "rules/pack.html", pack=pack, rows=conduct.pack_rows(pack))


@router.get("/rules/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    start: str | None = None,
    end: str | None = None,
) -> HTMLResponse:
    request.state.actor = actor
    try:
        report = _report(actor, session, state, start, end)
    except DoorstepError as exc:
        return error_page(request, exc, back="/rules/report")
    return render(request, "rules/report.html", report=report)


@router.get("/rules/report.csv")
def report_csv(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    request.state.actor = actor
    try:
        report = _report(actor, session, state, start, end)
    except DoorstepError as exc:
        return error_page(request, exc, back="/rules/report")
    name = f"compliance-{report.start}-{report.end}.csv"
    return Response(
        conduct.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
