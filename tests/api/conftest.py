"""The API tests use the shared world, app and client (tests/conftest.py), at any time of
day (signing in and tokens: tests/factories/web.py and people.py)."""

from __future__ import annotations

import pytest

from tests.factories.world import ANYTIME_RULES


@pytest.fixture(autouse=True)
def _any_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(ANYTIME_RULES))
