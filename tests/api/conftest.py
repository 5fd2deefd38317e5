"""The API tests use the shared world, app and client (tests/conftest.py), at any time of
day; the helpers to sign in are in tests/factories/ (re-exported here for older imports)."""

from __future__ import annotations

import pytest

from tests.factories.cases import set_state
from tests.factories.people import CHEAP_HASHER, PASSWORD, bearer
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import ANYTIME_RULES

__all__ = ["CHEAP_HASHER", "PASSWORD", "bearer", "csrf_of", "set_state", "sign_in"]


@pytest.fixture(autouse=True)
def _any_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(ANYTIME_RULES))
