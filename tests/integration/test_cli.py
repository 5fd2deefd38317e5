"""The operator's commands end to end on a SQLite file: ingest, batch, export, schedule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
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


CLI = Path(__file__).resolve().parents[2] / "src" / "doorstep" / "cli"
# every command users and scripts call, in the order `doorstep --help` lists them
COMMANDS = [
    "ingest",
    "schedule",
    "serve",
    "demo",
    "plan",
    "report",
    "worker",
    "db upgrade",
    "batch delinquency",
    "batch select",
    "batch run",
    "batch promises",
    "batch alerts",
    "batch evidence",
    "export delinquency",
    "export table",
    "export feedback",
    "users add",
    "users list",
    "users disable",
    "users password",
    "users unlock",
    "users token",
    "users tokens list",
    "users tokens revoke",
    "audit verify",
    "audit checkpoint",
    "audit resign",
    "keys rotate",
    "webhooks add",
    "webhooks list",
    "webhooks deliver",
    "offers track",
    "offers quote",
    "rules show",
    "rules check",
    "disputes open",
    "disputes resolve",
    "disputes list",
    "retention run",
    "privacy list",
    "privacy show",
    "privacy file",
    "privacy step",
    "privacy export",
    "privacy record",
    "score train",
    "score evaluate",
    "score apply",
    "score list",
    "score activate",
]
# the imports a command makes when it runs, because start-up would pay for them otherwise
LATE_IMPORTS = {
    ("demo.py", "doorstep.demo.generate"),
    ("serve.py", "uvicorn"),
    ("serve.py", "doorstep.app"),
    ("serve.py", "doorstep.cli.scheduler"),
    ("reports.py", "doorstep.services.reports"),
    ("exports.py", "doorstep.services.lender.exports"),
}


def test_every_command_keeps_its_name_and_place() -> None:
    def paths(command: object, prefix: str) -> list[str]:
        children: dict[str, object] = getattr(command, "commands", {})
        if not children:
            return [prefix]
        return [p for name, c in children.items() for p in paths(c, f"{prefix} {name}".strip())]

    assert paths(typer.main.get_command(app), "") == COMMANDS


def test_cli_modules_import_at_the_top_and_never_main() -> None:
    """The root app is built in main.py from the command modules: none imports it back, and
    a function imports only what would slow every command's start-up."""
    late: set[tuple[str, str]] = set()
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module != "doorstep.cli.main", path.name
                assert not (
                    node.module == "doorstep.cli" and any(a.name == "main" for a in node.names)
                ), path.name
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Import):
                        late |= {(path.name, a.name) for a in node.names}
                    elif isinstance(node, ast.ImportFrom):
                        late.add((path.name, node.module or ""))
    assert late <= LATE_IMPORTS


def test_starting_the_cli_loads_no_web_server_nor_demo_generator() -> None:
    probe = (
        "import sys, doorstep.cli.main; "
        "print(' '.join(m for m in ('doorstep.app', 'uvicorn', 'faker', 'apscheduler', "
        "'openpyxl', 'lightgbm') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
