"""The dashboard's figures as files: one long CSV, an XLSX workbook (a sheet per chart and
one for the roll matrix) and a PDF summary with the charts drawn and their tables.

The figures are the dashboard's own (`build_dashboard` for the period's last day and its
length), under the same access rules and city limits; texts are the dashboard's message
ids, translated by the caller's `tr` (zh_CN or en). Values stay numbers: the money charts
already hold yuan (the dashboard divides the book's fen), written with two decimals.

CSV is one long table, ``chart, title, label, series, value`` (the roll matrix as chart
``roll``: label = from bucket, series = to bucket or ``loans``), the shape analysts'
tools pivot most easily.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from fpdf import FPDF
from openpyxl import Workbook
from sqlalchemy.orm import Session

from doorstep.domain import bounds
from doorstep.domain.access import Actor, Role
from doorstep.domain.calendar import add_months
from doorstep.domain.errors import Forbidden, InvalidValue
from doorstep.integrations import pdf
from doorstep.integrations.spreadsheet import SafeWriter, safe_row
from doorstep.services.reports.dashboard import Chart, Dashboard, build_dashboard

Translate = Callable[[str], str]
MONEY_CHARTS = frozenset({"book_amount", "recovery"})
MAX_DAYS = 730
ROLL_TITLE = "Roll rates, month on month (% of loans)"
HEADERS = ("chart", "title", "label", "series", "value")
TEXTS = (*HEADERS, "Report", "Monthly report", "all cities", "Period", "City", "Item")
"""The reports' own message ids (besides the dashboard's titles and labels)."""

Row = tuple[str, str, str, str, float]


def translated(chart: Chart, tr: Translate) -> Chart:
    """The chart with its title (and labels, series names that are message ids) in `tr`'s
    language."""
    return replace(
        chart,
        title=tr(chart.title),
        labels=[tr(label) for label in chart.labels] if chart.translate_labels else chart.labels,
        series=[replace(s, name=tr(s.name)) for s in chart.series]
        if chart.translate_series
        else chart.series,
    )


def month_period(month: str) -> tuple[date, date]:
    """'2024-06' -> (2024-06-01, 2024-06-30); a month outside the business's calendar
    (`domain.bounds`) is refused."""
    first = bounds.month(month, "month")
    return first, date.fromordinal(add_months(first, 1).toordinal() - 1)


def report_board(
    session: Session,
    actor: Actor,
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    city: str | None = None,
    bucket_order: list[str] | None = None,
) -> Dashboard:
    """The dashboard of the period `start`..`end`, for a report."""
    if actor.role is Role.VERIFIER:
        raise Forbidden(
            "reports are for managers, analysts and auditors",
            message_zh="报表仅供主管、分析与审计人员",
        )
    if not 0 <= (end - start).days <= MAX_DAYS:
        raise InvalidValue(
            f"a report covers 0 to {MAX_DAYS} days, from its start to its end",
            message_zh=f"报表期间须为 0 至 {MAX_DAYS} 天，且开始日不晚于结束日",
        )
    return build_dashboard(
        session,
        actor,
        today=end,
        zone=zone,
        city=city,
        days=(end - start).days,
        bucket_order=bucket_order,
    )


def _rows(board: Dashboard, tr: Translate) -> Iterator[Row]:
    for chart in board.charts:
        shown = translated(chart, tr)
        for n, label in enumerate(shown.labels):
            for series in shown.series:
                yield chart.key, shown.title, label, series.name, series.values[n]
    if board.roll is not None:
        title = tr(ROLL_TITLE)
        for row, bucket in enumerate(board.roll.buckets):
            for col, to in enumerate(board.roll.buckets):
                yield "roll", title, bucket, to, board.roll.shares[row][col]
            yield "roll", title, bucket, tr("loans"), board.roll.loans[row]


def report_csv(board: Dashboard, tr: Translate) -> str:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow([tr(h) for h in HEADERS])
    writer.writerows(_rows(board, tr))
    return out.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "sheet"
    base, n = name, 2
    while name in taken:
        name = f"{base[: 31 - len(str(n)) - 1]}~{n}"
        n += 1
    taken.add(name)
    return name


def report_xlsx(board: Dashboard, tr: Translate, *, start: date, end: date) -> bytes:
    """One sheet per chart (title, period, a header row, then label and one column per
    series) and one for the roll matrix; numbers are numbers."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    period = f"{tr('Period')}: {start.isoformat()} – {end.isoformat()} · {tr('City')}: " + (
        board.city or tr("all cities")
    )
    for chart in board.charts:
        shown = translated(chart, tr)
        sheet = book.create_sheet(_sheet_name(shown.title, taken))
        sheet.append(safe_row([shown.title]))
        sheet.append(safe_row([period]))
        sheet.append(safe_row([tr("Item"), *(s.name for s in shown.series)]))
        for n, label in enumerate(shown.labels):
            sheet.append(safe_row([label, *(s.values[n] for s in shown.series)]))
        if chart.key in MONEY_CHARTS:
            for row in sheet.iter_rows(min_row=4, min_col=2):
                for cell in row:
                    cell.number_format = "#,##0.00"
        sheet.column_dimensions["A"].width = 18
    if board.roll is not None:
        roll = board.roll
        sheet = book.create_sheet(_sheet_name(tr(ROLL_TITLE), taken))
        sheet.append(safe_row([tr(ROLL_TITLE)]))
        sheet.append(safe_row([f"{roll.from_day.isoformat()} → {roll.to_day.isoformat()}"]))
        sheet.append(safe_row([tr("from / to"), *roll.buckets, tr("loans")]))
        for row, bucket in enumerate(roll.buckets):
            sheet.append(safe_row([bucket, *roll.shares[row], roll.loans[row]]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the PDF summary --------------------------------------------------------------------

PALETTE = ((31, 95, 191), (230, 126, 34), (46, 160, 67), (192, 57, 43), (142, 68, 173),
           (22, 160, 133), (127, 140, 141), (241, 196, 15))  # fmt: skip
CHART_HEIGHT = 62.0


def figure(value: float, money: bool = False) -> str:
    """How the PDF prints a value: money with two decimals, counts whole, rates as given."""
    if money:
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _ceiling(top: float) -> float:
    """The axis' top: the next 1, 2 or 5 × 10^k at or above `top`."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= top))


@dataclass(frozen=True)
class _Plot:
    """Where a chart's values are drawn: the plot area below the legend and right of the
    ticks, `top` the axis' value at its top, one slot per label."""

    left: float
    top_pad: float
    bottom: float
    width: float
    top: float
    slot: float

    @property
    def height(self) -> float:
        return self.bottom - self.top_pad

    def to_y(self, value: float) -> float:
        return self.bottom - self.height * max(value, 0) / self.top


def _draw_chart(chart: Chart, doc: FPDF, x: float, y: float, w: float, h: float) -> None:
    """A bar (grouped or stacked) or line chart in the box, with axis, ticks and legend."""
    doc.set_font(pdf.FAMILY, size=6.5)
    _legend(chart, doc, x, y)
    left, bottom = x + 14, y + h - 8
    if chart.kind == "stacked":
        highest = max(sum(s.values[i] for s in chart.series) for i in range(len(chart.labels)))
    else:
        highest = max(v for s in chart.series for v in s.values)
    width = x + w - left
    plot = _Plot(left, y + 7, bottom, width, _ceiling(float(highest)), width / len(chart.labels))
    _ticks_and_labels(chart, doc, plot, x)
    if chart.kind == "line":
        _draw_lines(chart, doc, plot)
    else:
        _draw_bars(chart, doc, plot)
    doc.set_draw_color(0)
    doc.set_line_width(0.2)
    doc.line(left, bottom, left + plot.width, bottom)
    doc.line(left, plot.top_pad, left, bottom)


def _legend(chart: Chart, doc: FPDF, x: float, y: float) -> None:
    """A colour swatch and name per series, in a row along the top of the box."""
    for n, series in enumerate(chart.series):
        doc.set_fill_color(*PALETTE[n % len(PALETTE)])
        doc.rect(x, y + 1, 3, 3, style="F")
        doc.set_xy(x + 3.5, y + 0.5)
        doc.cell(0, 4, series.name)
        x += 6 + doc.get_string_width(series.name)


def _ticks_and_labels(chart: Chart, doc: FPDF, plot: _Plot, x: float) -> None:
    """Five grid lines with their values on the left; under the axis the labels, at most
    about twelve of them (every n-th when there are more)."""
    doc.set_draw_color(200)
    doc.set_line_width(0.1)
    for tick in range(5):
        ty = plot.bottom - plot.height * tick / 4
        doc.line(plot.left, ty, plot.left + plot.width, ty)
        doc.set_xy(x, ty - 2)
        value = plot.top * tick / 4
        doc.cell(13, 4, f"{value:,.0f}" if value == int(value) else f"{value:g}", align="R")
    step = math.ceil(len(chart.labels) / 12)
    for i, label in enumerate(chart.labels):
        if i % step == 0:
            doc.set_xy(plot.left + plot.slot * i, plot.bottom + 1)
            doc.cell(max(plot.slot * step, 8), 4, label[:14], align="L" if step > 1 else "C")


def _draw_lines(chart: Chart, doc: FPDF, plot: _Plot) -> None:
    doc.set_line_width(0.5)
    for s, series in enumerate(chart.series):
        doc.set_draw_color(*PALETTE[s % len(PALETTE)])
        points = [
            (plot.left + plot.slot * (i + 0.5), plot.to_y(v)) for i, v in enumerate(series.values)
        ]
        if len(points) > 1:
            doc.polyline(points)
        else:
            doc.circle(points[0][0], points[0][1], 0.8, style="D")


def _draw_bars(chart: Chart, doc: FPDF, plot: _Plot) -> None:
    """Grouped bars side by side in each label's slot, or one stacked bar."""
    stacked = chart.kind == "stacked"
    bar = plot.slot * 0.8 / (1 if stacked else len(chart.series))
    for i in range(len(chart.labels)):
        base = plot.bottom
        for s, series in enumerate(chart.series):
            height = plot.bottom - plot.to_y(series.values[i])
            doc.set_fill_color(*PALETTE[s % len(PALETTE)])
            bx = plot.left + plot.slot * (i + 0.1) + (0 if stacked else bar * s)
            if height > 0:
                doc.rect(bx, base - height, bar, height, style="F")
            if stacked:
                base -= height


def report_pdf(
    board: Dashboard, tr: Translate, *, start: date, end: date, generated_at: datetime
) -> bytes:
    """The summary: the period under the title, then each chart drawn and its table, then
    the roll matrix."""
    whole_month = start.day == 1 and month_period(start.strftime("%Y-%m"))[1] == end
    title = (
        f"{tr('Monthly report')} {start.strftime('%Y-%m')}"
        if whole_month
        else f"{tr('Report')} {start.isoformat()} – {end.isoformat()}"
    )
    blocks: list[pdf.Block] = [
        pdf.Paragraph(
            f"{tr('Period')}: {start.isoformat()} – {end.isoformat()} · {tr('City')}: "
            f"{board.city or tr('all cities')} · {generated_at.strftime('%Y-%m-%d %H:%M')}",
            small=True,
        )
    ]
    for chart in board.charts:
        shown = translated(chart, tr)
        # The title stays on the page of its chart and the table's first rows.
        blocks.append(pdf.Heading(shown.title, keep=CHART_HEIGHT + 30))
        if shown.empty:
            blocks.append(pdf.Paragraph(tr("No data for this period yet."), small=True))
            continue
        money = chart.key in MONEY_CHARTS
        blocks += [
            pdf.Figure(CHART_HEIGHT, partial(_draw_chart, shown)),
            pdf.Table(
                [tr("Item"), *(s.name for s in shown.series)],
                [
                    [label, *(figure(s.values[i], money) for s in shown.series)]
                    for i, label in enumerate(shown.labels)
                ],
            ),
        ]
    if board.roll is not None:
        roll = board.roll
        blocks += [
            pdf.Heading(tr(ROLL_TITLE)),
            pdf.Table(
                [tr("from / to"), *roll.buckets, tr("loans")],
                [
                    [b, *(figure(v) for v in roll.shares[r]), figure(roll.loans[r])]
                    for r, b in enumerate(roll.buckets)
                ],
            ),
        ]
    return pdf.render(title, blocks, footer="doorstep")
