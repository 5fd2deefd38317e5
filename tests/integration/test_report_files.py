"""Reports: the dashboard's figures as CSV, XLSX and a monthly PDF, equal to the page's,
under the page's access rules (a verifier is refused, a manager sees their cities)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import Forbidden, InvalidValue
from doorstep.domain.ports import FixedClock
from doorstep.services.reports import files as report_files
from doorstep.services.reports.dashboard import Dashboard, build_dashboard
from doorstep.store.models import Case
from doorstep.web.i18n import translations
from tests.factories.databases import url_of
from tests.factories.reports import TODAY, ZONE, a_month_of_field_work
from tests.factories.web import sign_in
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db
START = TODAY - timedelta(days=90)
ZH = translations("zh_CN").gettext
EN = translations("en").gettext
MANAGER = Actor("manager", Role.MANAGER, regions=frozenset({"北京市"}))


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world with a month of field work (tests/factories/reports.py)."""
    return build_world(engine, tmp_path, keys, then=a_month_of_field_work)


def board(engine: Engine, actor: Actor = SYSTEM, **kwargs: object) -> Dashboard:
    with Session(engine) as session:
        return report_files.report_board(
            session,
            actor,
            start=START,
            end=TODAY,
            zone=ZONE,
            bucket_order=DEFAULT_BUCKETS.names,
            **kwargs,  # type: ignore[arg-type]
        )


def expected(engine: Engine, actor: Actor = SYSTEM) -> dict[tuple[str, str, str], float]:
    """{(chart, label, series): value} straight from the dashboard (English ids)."""
    with Session(engine) as session:
        page = build_dashboard(
            session, actor, today=TODAY, zone=ZONE, days=90, bucket_order=DEFAULT_BUCKETS.names
        )
    figures = {
        (c.key, label, s.name): s.values[n]
        for c in page.charts
        for n, label in enumerate(c.labels)
        for s in c.series
    }
    assert page.roll is not None
    for r, bucket in enumerate(page.roll.buckets):
        for k, to in enumerate(page.roll.buckets):
            figures["roll", bucket, to] = page.roll.shares[r][k]
        figures["roll", bucket, "loans"] = page.roll.loans[r]
    return figures


def parse_csv(text: str) -> tuple[list[str], dict[tuple[str, str, str], float]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, {(c, label, s): float(v) for c, _, label, s, v in reader}


def test_the_csv_holds_the_dashboards_figures(world: World, engine: Engine) -> None:
    header, found = parse_csv(report_files.report_csv(board(engine), EN))
    assert header == ["chart", "title", "label", "series", "value"]
    figures = expected(engine)
    assert found == {k: float(v) for k, v in figures.items()}
    assert found["visits_per_day", "2024-06-01", "visits"] == 1
    assert found["recovery", "per visit", "yuan"] == 500
    zh_header, zh_found = parse_csv(report_files.report_csv(board(engine), ZH))
    assert zh_header == ["图表", "标题", "项目", "系列", "数值"]
    assert len(zh_found) == len(found)  # labels translated, the same figures


def test_the_workbook_has_a_sheet_per_chart_with_numbers(world: World, engine: Engine) -> None:
    data = board(engine)
    book = load_workbook(io.BytesIO(report_files.report_xlsx(data, ZH, start=START, end=TODAY)))
    assert len(book.sheetnames) == len(data.charts) + 1  # + the roll matrix
    zh_titles = [ZH(c.title) for c in data.charts]
    assert zh_titles[0] != data.charts[0].title  # really Chinese
    for chart, sheet_name in zip(data.charts, book.sheetnames, strict=False):
        sheet = book[sheet_name]
        assert sheet["A1"].value == ZH(chart.title)
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        assert len(rows) == len(chart.labels)
        for n, row in enumerate(rows):
            assert list(row[1:]) == [s.values[n] for s in chart.series]
            assert all(isinstance(v, int | float) for v in row[1:])
    money = book[book.sheetnames[0]]
    assert money.cell(4, 2).number_format == "#,##0.00"
    roll = book[book.sheetnames[-1]]
    assert data.roll is not None and roll["A1"].value == "迁徙率（环比，按贷款笔数 %）"
    assert [r[0] for r in roll.iter_rows(min_row=4, values_only=True)] == data.roll.buckets


def test_reports_keep_the_pages_rules(world: World, engine: Engine) -> None:
    verifier = Actor("verifier", Role.VERIFIER)
    with pytest.raises(Forbidden):
        board(engine, verifier)
    _, mine = parse_csv(report_files.report_csv(board(engine, MANAGER), EN))
    assert mine == {k: float(v) for k, v in expected(engine, MANAGER).items()}
    with Session(engine) as session:
        beijing = len(session.scalars(select(Case.id).where(Case.city == "北京市")).all())
    cases = sum(v for (chart, _, _), v in mine.items() if chart == "cases")
    assert cases == beijing < len(world.case_ids)
    with Session(engine) as session, pytest.raises(InvalidValue):
        report_files.report_board(
            session, SYSTEM, start=TODAY, end=TODAY - timedelta(days=1), zone=ZONE
        )


def pdf_text(path: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return done.stdout


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) missing")
def test_the_monthly_pdf_draws_the_charts_and_holds_the_figures(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    first, last = report_files.month_period("2024-07")
    assert (first, last) == (date(2024, 7, 1), date(2024, 7, 31))
    with Session(engine) as session:
        data = report_files.report_board(
            session, SYSTEM, start=date(2024, 5, 1), end=last, zone=ZONE
        )
    body = report_files.report_pdf(
        data, ZH, start=first, end=last, generated_at=datetime(2024, 8, 1, tzinfo=UTC)
    )
    path = tmp_path / "month.pdf"
    path.write_bytes(body)
    text = pdf_text(path)
    assert "月度报告 2024-07" in text
    for chart in data.charts:
        assert ZH(chart.title) in text, chart.title
    book = next(c for c in data.charts if c.key == "book_amount")
    for series in book.series:  # each bucket's overdue yuan, as printed in the table
        assert report_files.figure(series.values[-1], money=True) in text
    assert "迁徙率" in text
    visits = " ".join(text.split())  # the visits-per-day table: the day and its one visit
    assert "2024-06-01 1" in visits
    if shutil.which("pdftoppm"):  # the charts are drawn: the first series' colour is there
        subprocess.run(
            ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")],
            check=True,
        )
        image = Image.open(next(tmp_path.glob("p*.png"))).convert("RGB")
        colours = {colour: n for n, colour in image.getcolors(maxcolors=1 << 20) or []}
        painted = colours.get(report_files.PALETTE[0], 0)
        assert painted > 50


PERIOD = {"start": START.isoformat(), "end": TODAY.isoformat()}


def test_the_download_routes(client: TestClient, engine: Engine) -> None:
    sign_in(client, "verifier")
    for path in ("/dashboard/report.csv", "/dashboard/report.xlsx", "/dashboard/report.pdf"):
        assert client.get(path, params=PERIOD).status_code == 403, path
    client.cookies.clear()
    sign_in(client, "manager")
    page = client.get("/dashboard", params={"until": TODAY.isoformat(), "days": 90})
    assert f"/dashboard/report.csv?start={START}&amp;end={TODAY}" in page.text
    answer = client.get("/dashboard/report.csv", params={**PERIOD, "lang": "en"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    _, found = parse_csv(answer.text)
    assert found == {k: float(v) for k, v in expected(engine, MANAGER).items()}
    outside = client.get("/dashboard/report.csv", params={**PERIOD, "city": "上海市"})
    _, nothing = parse_csv(outside.text)
    assert not any(v for (chart, _, _), v in nothing.items() if chart.startswith("book"))
    assert parse_csv(outside.text)[0][0] == "图表"  # zh_CN unless asked otherwise
    workbook = client.get("/dashboard/report.xlsx", params=PERIOD)
    assert workbook.status_code == 200
    assert len(load_workbook(io.BytesIO(workbook.content)).sheetnames) > 10
    month = client.get("/dashboard/report.pdf", params={"month": "2024-07"})
    assert month.status_code == 200 and month.content.startswith(b"%PDF")
    assert client.get("/dashboard/report.pdf", params={"month": "2024-13"}).status_code == 422


def test_the_default_periods_are_the_apps_clocks(
    world: World, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a date the page and the downloads end on the app clock's business day
    (00:30 in Shanghai is still the day before in UTC), the PDF is last month's and says
    when it was made by the same clock."""
    clock = FixedClock(datetime(2024, 8, 9, 16, 30, tzinfo=UTC))  # 2024-08-10 00:30 local
    made: list[datetime] = []
    real_pdf = report_files.report_pdf

    def recording_pdf(*args: Any, generated_at: datetime, **kwargs: Any) -> bytes:
        made.append(generated_at)
        return real_pdf(*args, generated_at=generated_at, **kwargs)

    monkeypatch.setattr(report_files, "report_pdf", recording_pdf)
    settings = Settings(var_dir=tmp_path / "var")
    app = create_app(settings, engine=engine, migrate_schema=False, clock=clock)
    app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    with TestClient(app) as client:
        sign_in(client, "manager")
        page = client.get("/dashboard")
        assert "/dashboard/report.csv?start=2024-05-12&amp;end=2024-08-10" in page.text
        named = client.get("/dashboard/report.csv").headers["content-disposition"]
        assert named == 'attachment; filename="dashboard-2024-05-12-2024-08-10.csv"'
        month = client.get("/dashboard/report.pdf")
        assert month.headers["content-disposition"].endswith('filename="dashboard-2024-07.pdf"')
    assert made == [clock.at] and made[0].tzinfo == settings.zone


def test_the_report_command_writes_each_format(
    world: World, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from doorstep.cli.main import app

    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    period = ["--from", START.isoformat(), "--to", TODAY.isoformat()]
    runner = CliRunner()
    for fmt in ("csv", "xlsx", "pdf"):
        target = tmp_path / f"out.{fmt}"
        result = runner.invoke(app, ["report", *period, "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == report_files.report_csv(
        board(engine), ZH
    )
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    backwards = runner.invoke(app, ["report", "--from", "2024-07-02", "--to", "2024-07-01",
                                    "-o", str(tmp_path / "x.csv")])  # fmt: skip
    assert backwards.exit_code == 1
