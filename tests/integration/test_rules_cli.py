"""`doorstep rules show` with a deployment override, a broken override, and
`doorstep retention run --dry-run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from doorstep.cli import common as cli_common
from doorstep.cli.main import app

runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DOORSTEP_DATABASE_URL", raising=False)
    monkeypatch.delenv("DOORSTEP_JURISDICTION", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    # the console is made when the CLI is first imported (maybe by another test): widen it
    # here, or its tables fold the values this file looks for
    monkeypatch.setattr(cli_common.console, "width", 250)
    return tmp_path / "var"


def test_rules_show_names_the_override(
    var_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site.toml"
    site.write_text("[rules.CN-CALLS-EFFECTIVE.params]\nmax = 2\n", encoding="utf-8")
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(site))
    result = runner.invoke(app, ["rules", "show"])
    assert result.exit_code == 0, result.output
    assert "max = 2 (site.toml)" in result.output and "start = 22:00 (cn.toml)" in result.output


def test_broken_override_fails_naming_rule_and_field(
    var_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[rules.CN-HOURS.params]\nstart = "late"\n', encoding="utf-8")
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(site))
    result = runner.invoke(app, ["rules", "show"])
    assert result.exit_code == 1
    assert "CN-HOURS" in result.output and "params.start" in result.output


def test_retention_dry_run(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOORSTEP_RULES_FILE", raising=False)
    result = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "contact_attempts" in result.output and "CN-RETENTION" in result.output
    done = runner.invoke(app, ["retention", "run"])
    assert done.exit_code == 0 and "nothing due" in done.output, done.output
