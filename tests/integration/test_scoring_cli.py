"""`doorstep score`: evaluate any file, train from a file, list, activate, apply."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest
from typer.testing import CliRunner

from doorstep.cli.main import app

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DOORSTEP_DATABASE_URL", raising=False)
    return tmp_path / "var"


def credit_file(folder: Path, n: int = 600) -> Path:
    rng = np.random.default_rng(9)
    late = rng.poisson(1.0, n)
    utilisation = rng.uniform(0, 1.2, n)
    logit = -1.5 + 0.8 * late + 1.2 * utilisation
    frame = pd.DataFrame(
        {
            "ID": np.arange(n),
            "SEX": rng.integers(1, 3, n),
            "AGE": rng.integers(21, 65, n),
            "late": late,
            "utilisation": utilisation,
            "grade": rng.choice(["A", "B", "C"], n),
            "default": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    path = folder / "credit.csv"
    frame.to_csv(path, index=False)
    return path


def test_evaluate_any_file_as_json_and_table(var_dir: Path, tmp_path: Path) -> None:
    path = credit_file(tmp_path)
    args = ["score", "evaluate", "--data", str(path), "--target", "default", "--exclude", "ID",
            "--folds", "3"]  # fmt: skip
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures["summary"]) == {"scorecard", "lightgbm", "lightgbm-default"}
    assert figures["summary"]["scorecard"]["auc"]["mean"] > 0.65
    assert len([f for f in figures["folds_detail"] if f["model"] == "scorecard"]) == 3
    assert set(figures["excluded"]) == {"ID", "SEX", "AGE"}  # protected: never an input
    assert "SEX" not in figures["features"] and "AGE" not in figures["features"]
    table = runner.invoke(app, [*args, "--folds", "2"])
    assert table.exit_code == 0, table.output
    assert "scorecard" in table.stdout and "AUC" in table.stdout and "±" in table.stdout


def test_train_list_activate_apply(var_dir: Path, tmp_path: Path) -> None:
    path = credit_file(tmp_path)
    refused = runner.invoke(app, ["score", "train", "--purpose", "hardship_vs_evasion"])
    assert refused.exit_code == 1 and "--data" in refused.output
    trained = runner.invoke(
        app,
        ["score", "train", "--purpose", "hardship_vs_evasion", "--data", str(path),
         "--target", "default", "--folds", "2"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "hardship_vs_evasion v1" in trained.stdout and "candidate" in trained.stdout
    listed = runner.invoke(app, ["score", "list"])
    assert listed.exit_code == 0 and "hardship_vs_evasion" in listed.stdout
    activated = runner.invoke(app, ["score", "activate", "1", "--reason", "reviewed"])
    assert activated.exit_code == 0, activated.output
    assert "is active" in activated.stdout
    missing = runner.invoke(app, ["score", "activate", "99"])
    assert missing.exit_code == 1
    # No visit_priority model yet: apply says what to do.
    applied = runner.invoke(app, ["score", "apply", "--as-of", "2025-06-30"])
    assert applied.exit_code == 1 and "visit_priority" in applied.output
