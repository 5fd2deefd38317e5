"""Conduct-rule pages for admins, managers and auditors: the effective pack with where each
value came from, and the compliance report (page and CSV)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.errors import DoorstepError, InvalidValue
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services import rules as conduct
from doorstep.web.routes.cases import error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _day(text: str | None, default: date, name: str) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(
            f"{name}: expected a date as YYYY-MM-DD", message_zh=f"{name}：日期格式应为 YYYY-MM-DD"
        ) from None


def _period(state: State, start: str | None, end: str | None) -> tuple[date, date]:
    today = datetime.now(state.settings.rules_pack.default_zone).date()
    last = _day(end, today, "end")
    return _day(start, last - timedelta(days=29), "start"), last


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
        first, last = _period(state, start, end)
        report = conduct.compliance_report(
            session, actor, first, last, pack=state.settings.rules_pack
        )
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
        first, last = _period(state, start, end)
        report = conduct.compliance_report(
            session, actor, first, last, pack=state.settings.rules_pack
        )
    except DoorstepError as exc:
        return error_page(request, exc, back="/rules/report")
    return Response(
        conduct.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="compliance-{first}-{last}.csv"'},
    )
