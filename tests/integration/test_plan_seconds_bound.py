"""The planner's time budget is bounded by one setting (`plan_max_seconds`): a request
for more is refused in words that state the limit, on the page as through the service;
the default budgets may not exceed it. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.domain.errors import InvalidValue
from doorstep.services import visit_plans
from doorstep.services.visit_plans import PlanConfig
from doorstep.store.db import transaction
from tests.factories.people import actor_in
from tests.factories.web import csrf_of, make_app, sign_in
from tests.factories.world import build_world

pytestmark = pytest.mark.db
DAY = date(2026, 3, 9)


def test_the_service_refuses_more_than_the_setting_and_names_it(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    cfg = PlanConfig.from_settings(Settings(plan_max_seconds=20, plan_seconds=5))
    with transaction(engine) as session:
        manager = actor_in(session, "manager")
        for asked in (600, 21, 0, -1, float("nan")):
            with pytest.raises(InvalidValue) as refused:
                visit_plans.run_plan(session, manager, DAY, "北京市", cfg, seconds=asked)
            assert "at most 20 s" in refused.value.message
            assert "不超过 20 秒" in refused.value.message_zh


def test_the_planning_page_answers_a_request_over_the_limit_in_words(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    from fastapi.testclient import TestClient

    world = build_world(engine, tmp_path, keys)
    app = make_app(engine, world, tmp_path, plan_max_seconds=30, plan_seconds=5)
    with TestClient(app) as client:
        sign_in(client, "manager")
        token = csrf_of(client.get("/plans").text)
        assert 'title="最多 30 秒"' in client.get("/plans").text
        answer = client.post(
            "/plans",
            data={"city": "北京市", "day": DAY.isoformat(), "seconds": "600", "csrf_token": token},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        assert answer.status_code == 422
        assert "不超过 30 秒" in answer.text


def test_default_budgets_above_the_limit_are_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="plan_seconds is above plan_max_seconds"):
        Settings(plan_max_seconds=10, plan_seconds=30)
    with pytest.raises(ValidationError, match="plan_max_seconds"):
        Settings(plan_max_seconds=601)
