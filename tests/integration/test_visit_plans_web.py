"""The planning pages over HTTP: who may plan, a stale form is a 409, bad input names its
field, a run -> re-optimise -> publish round trip; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.domain.ports import FixedClock
from doorstep.store.db import transaction
from doorstep.store.models import Case, VisitPlan
from tests.factories.plans import ITERATIONS
from tests.factories.web import csrf_of, make_app, sign_in
from tests.integration.test_visit_plans import CITY, spread_world

pytestmark = pytest.mark.db


@pytest.fixture
def app(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> FastAPI:
    spread_world(engine, tmp_path, keys)
    app = make_app(
        engine, None, tmp_path, plan_seconds=30, plan_edit_seconds=30, plan_iterations=ITERATIONS
    )
    app.state.doorstep.cipher, app.state.doorstep.hasher = keys
    return app


def test_only_planners_in_their_regions(client: TestClient) -> None:
    sign_in(client, "verifier")
    assert client.get("/plans", headers={"accept": "text/html"}).status_code == 403


def test_run_reoptimise_publish_and_a_stale_form(client: TestClient, engine: Engine) -> None:
    token = sign_in(client, "manager")
    page = client.get("/plans")
    assert page.status_code == 200 and CITY in page.text
    day = (datetime.now(Settings().zone).date() + timedelta(days=1)).isoformat()
    html = {"accept": "text/html"}

    bad = client.post(
        "/plans", data={"city": CITY, "day": "2025-02-30", "csrf_token": token}, headers=html
    )
    assert bad.status_code == 422 and "date" in bad.text
    other = client.post(
        "/plans", data={"city": "上海市", "day": day, "csrf_token": token}, headers=html
    )
    assert other.status_code == 403  # not one of the manager's regions
    with transaction(engine) as session:
        assert session.scalar(select(VisitPlan.id)) is None  # nothing saved

    made = client.post(
        "/plans", data={"city": CITY, "day": day, "csrf_token": token}, follow_redirects=False
    )
    assert made.status_code == 303
    url = made.headers["location"]
    page = client.get(url)
    assert page.status_code == 200
    assert 'id="plan-geo"' in page.text and 'data-testid="route"' in page.text
    version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]

    again = client.post(
        f"{url}/reoptimise",
        data={"version": version, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303
    stale = client.post(
        f"{url}/publish", data={"version": version, "csrf_token": token}, headers=html
    )
    assert stale.status_code == 409  # made on the version before the re-optimisation
    page = client.get(url)
    version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    done = client.post(
        f"{url}/publish", data={"version": version, "csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    plan_id = int(url.rsplit("/", 1)[1])
    with transaction(engine) as session:
        plan = session.get(VisitPlan, plan_id)
        assert plan is not None and plan.state == "published"
        assert session.scalars(select(Case).where(Case.state == "scheduled")).first()
    assert client.get("/plans/999999", headers=html).status_code == 404


def test_the_pages_take_the_time_from_the_app_clock(client: TestClient, engine: Engine) -> None:
    """The default day is tomorrow by the app's clock, and a publication is refused once
    that clock says the plan's day is over."""
    state = client.app.state.doorstep  # type: ignore[attr-defined]
    state.clock = FixedClock(datetime(2030, 1, 1, 20, tzinfo=UTC))  # 04:00 on 2 Jan in Beijing
    token = sign_in(client, "manager")
    assert 'name="day" value="2030-01-03"' in client.get("/plans").text
    made = client.post(
        "/plans",
        data={"city": CITY, "day": "2030-01-03", "csrf_token": token},
        follow_redirects=False,
    )
    assert made.status_code == 303
    page = client.get(made.headers["location"])
    version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    state.clock = FixedClock(datetime(2030, 1, 3, 16, tzinfo=UTC))  # 00:00 on 4 Jan in Beijing
    token = sign_in(client, "manager")  # two days on, the session has long expired
    late = client.post(
        f"{made.headers['location']}/publish",
        data={"version": version, "csrf_token": token},
        headers={"accept": "text/html"},
    )
    assert late.status_code == 409 and "2030-01-03" in late.text
    with transaction(engine) as session:
        assert session.scalars(select(VisitPlan.state)).all() == ["draft"]
