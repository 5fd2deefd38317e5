"""The manager's dashboard: charts drawn in the browser from the figures, a table under
each chart with the same numbers (readable without the chart, and by screen readers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services.dashboard import Chart, build_dashboard
from doorstep.web.i18n import language_of, translations
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def _translated(chart: Chart, tr: Callable[[str], str]) -> Chart:
    return replace(
        chart,
        title=tr(chart.title),
        labels=[tr(label) for label in chart.labels] if chart.translate_labels else chart.labels,
        series=[replace(s, name=tr(s.name)) for s in chart.series]
        if chart.translate_series
        else chart.series,
    )


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    city: str | None = None,
    days: int = 90,
    until: str | None = None,
) -> HTMLResponse:
    settings = state.settings
    today = datetime.now(settings.zone).date()
    try:
        end = date.fromisoformat(until) if until else today
    except ValueError:
        end = today  # a malformed date is no filter
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
    charts = [_translated(chart, gettext) for chart in board.charts]
    return render(
        request,
        "dashboard/index.html",
        board=board,
        charts=charts,
        data={"charts": [asdict(c) for c in charts]},
        days=days,
        until=end.isoformat(),
    )
