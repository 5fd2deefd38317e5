"""Under DOORSTEP_CI=1 (.ci/run) a skipped test is reported as a failure, unless all it
lacks is ../shared/ (absent from a user's clone); elsewhere a skip stays a skip."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from tests import conftest


def reported(reason: str, *, ci: bool, monkeypatch: pytest.MonkeyPatch) -> pytest.TestReport:
    """What the hook makes of a test skipped with `reason`."""
    monkeypatch.setattr(conftest, "CI", ci)
    skipped = pytest.TestReport(
        "tests/x.py::test_x", ("tests/x.py", 1, "test_x"), {}, "skipped",
        ("tests/x.py", 1, f"Skipped: {reason}"), "setup",
    )  # fmt: skip
    hook: Any = conftest.pytest_runtest_makereport
    wrapper: Generator[None, pytest.TestReport, pytest.TestReport] = hook(None, None)
    next(wrapper)
    with pytest.raises(StopIteration) as done:
        wrapper.send(skipped)
    report: pytest.TestReport = done.value.value
    return report


def test_in_ci_a_missing_service_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    report = reported("PostgreSQL unreachable at ...", ci=True, monkeypatch=monkeypatch)
    assert report.failed and "PostgreSQL unreachable" in str(report.longrepr)


def test_in_ci_only_shared_data_may_be_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = f"no Solomon instances at {conftest.SHARED / 'bench' / 'solomon' / 'txt'}"
    assert reported(reason, ci=True, monkeypatch=monkeypatch).skipped


def test_outside_ci_a_skip_stays_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    assert reported("chromium is missing", ci=False, monkeypatch=monkeypatch).skipped
