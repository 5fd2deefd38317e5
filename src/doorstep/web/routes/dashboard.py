"""The manager's dashboard: charts drawn in the browser from the figures, a table under
each chart with the same numbers (readable without the chart, and by screen readers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.domain.bounds import INT32
from doorstep.http.context import AppState, CurrentActor, DbSession, State
from doorstep.services.reports import files as report_files
from doorstep.services.reports.dashboard import Dashboard, build_dashboard, default_end
from doorstep.web.forms import day_field
from doorstep.web.i18n import LANGUAGES, language_of, translations
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _now(state: AppState) -> datetime:
    """The app clock's now, in the business zone."""
    return state.clock.now().astimezone(state.settings.zone)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    city: str | None = None,
    days: Annotated[int, Query(ge=1, le=INT32)] = 90,
    until: str | None = None,
) -> HTMLResponse:
    settings = state.settings
    end = day_field(until, "until") if until else default_end(session, _now(state).date())
    board = build_dashboard(
        session,
        actor,
        today=end,
        zone=settings.zone,
        city=city or None,
        days=max(7, min(days, 730)),
        bucket_order=settings.bucket_scheme.names,
    )
    gettext = translations(language_of(request)).gettext
    charts = [report_files.translated(chart, gettext) for chart in board.charts]
    return render(
        request,
        "dashboard/index.html",
        board=board,
        charts=charts,
        data={"charts": [asdict(c) for c in charts]},
        days=days,
        until=end.isoformat(),
        since=(end - timedelta(days=max(7, min(days, 730)))).isoformat(),
    )


# Downloads: the same figures, access rules and city limits as the page.


@dataclass(frozen=True)
class _Report:
    board: Dashboard
    first: date
    last: date
    tr: report_files.Translate


def _report(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    first: date,
    last: date,
    city: str | None,
    lang: str | None,
) -> _Report:
    request.state.actor = actor
    board = report_files.report_board(
        session,
        actor,
        start=first,
        end=last,
        zone=state.settings.zone,
        city=city or None,
        bucket_order=state.settings.bucket_scheme.names,
    )
    return _Report(board, first, last, _gettext(request, lang))


def _period_report(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    start: str | None = None,
    end: str | None = None,
    city: str | None = None,
    lang: str | None = None,
) -> _Report:
    """The report of the days `start`..`end` (default: the 90 days up to today)."""
    request.state.actor = actor
    last = day_field(end, "end") if end else _now(state).date()
    first = day_field(start, "start") if start else last - timedelta(days=90)
    return _report(request, actor, session, state, first, last, city, lang)


PeriodReport = Annotated[_Report, Depends(_period_report)]


def _gettext(request: Request, lang: str | None) -> report_files.Translate:
    return translations(lang if lang in LANGUAGES else language_of(request)).gettext


def _download(body: bytes | str, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/dashboard/report.csv")
def report_csv(report: PeriodReport) -> Response:
    """One long CSV: chart, title, label, series, value (the roll matrix as chart `roll`)."""
    body = report_files.report_csv(report.board, report.tr)
    name = f"dashboard-{report.first}-{report.last}.csv"
    return _download(body, "text/csv; charset=utf-8", name)


@router.get("/dashboard/report.xlsx")
def report_xlsx(report: PeriodReport) -> Response:
    body = report_files.report_xlsx(report.board, report.tr, start=report.first, end=report.last)
    return _download(body, XLSX, f"dashboard-{report.first}-{report.last}.xlsx")


@router.get("/dashboard/report.pdf")
def report_pdf(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    month: str | None = None,
    city: str | None = None,
    lang: str | None = None,
) -> Response:
    """The monthly summary (default: last month) with the charts drawn and their tables."""
    now = _now(state)
    if month is None:
        month = (now.date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    first, last = report_files.month_period(month)
    report = _report(request, actor, session, state, first, last, city, lang)
    body = report_files.report_pdf(report.board, report.tr, start=first, end=last, generated_at=now)
    return _download(body, "application/pdf", f"dashboard-{month}.pdf")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
