"""The operator's commands end to end on a SQLite file: ingest, batch, export, schedule."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from doorstep.cli.main import app
from tests.factories.book import small_book

runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DOORSTEP_DATABASE_URL", raising=False)
    return tmp_path / "var"


def test_schedule_prints_published_figures() -> None:
    """100,000 at 12% over 12 months: 8,884.88 a month, 6,618.53 interest in total."""
    result = runner.invoke(
        app,
        [
            "schedule",
            "--principal",
            "100000",
            "--annual-rate",
            "0.12",
            "--months",
            "12",
            "--start",
            "2025-01-15",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "seq,due_on,payment,principal,interest,balance"
    assert lines[1].startswith("1,2025-01-15,8884.88,")
    assert lines[-1] == "total,,106618.53,100000.00,6618.53,"


def test_schedule_rejects_bad_input() -> None:
    """A bad amount is a clear error, not a traceback."""
    result = runner.invoke(
        app, ["schedule", "--principal", "12.345", "--annual-rate", "0.1", "--months", "12"]
    )
    assert result.exit_code == 1
    assert "at most 2 decimals" in result.output


def test_ingest_batch_export(var_dir: Path, tmp_path: Path) -> None:
    """Ingest twice (the second changes nothing), run the batch, export CSV and Parquet."""
    folder = small_book(5).write(tmp_path / "book")
    first = runner.invoke(app, ["ingest", str(folder)])
    assert first.exit_code == 0, first.output
    assert "import batch #1" in first.output
    second = runner.invoke(app, ["ingest", str(folder)])
    assert second.exit_code == 0
    assert "no changes" in second.output
    batch = runner.invoke(app, ["batch", "delinquency", "--as-of", "2024-06-01"])
    assert batch.exit_code == 0, batch.output
    assert "5 overdue" in batch.output
    out = tmp_path / "d.csv"
    export = runner.invoke(app, ["export", "delinquency", "--as-of", "2024-06-01", "-o", str(out)])
    assert export.exit_code == 0, export.output
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.columns == [
        "loan_id",
        "customer_id",
        "as_of",
        "dpd",
        "bucket",
        "overdue_principal",
        "overdue_interest",
        "overdue_penalty",
        "outstanding_principal",
    ]
    assert frame.height == 5
    assert set(frame["dpd"]) == {"83"}
    parquet = tmp_path / "d.parquet"
    runner.invoke(
        app,
        [
            "export",
            "delinquency",
            "--as-of",
            "2024-06-01",
            "--format",
            "parquet",
            "-o",
            str(parquet),
        ],
    )
    assert pl.read_parquet(parquet)["overdue_principal"].dtype == pl.Int64


def test_rejected_ingest_exits_2_and_reports(var_dir: Path, tmp_path: Path) -> None:
    book = small_book(2)
    book.rows["payments"][1]["amount"] = "-5.00"
    result = runner.invoke(app, ["ingest", str(book.write(tmp_path / "bad"))])
    assert result.exit_code == 2
    assert "must not be negative" in result.output
    assert list((var_dir / "reports").glob("ingest-rejected-*.csv"))
