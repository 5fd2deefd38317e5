"""The planning page in chromium: a manager plans a day, moves a stop to another team,
re-optimises, publishes; a verifier of that team then sees the team's stops in route
order on their day page. A stale form gets a 409 page, never a silent overwrite.

The test runs its own app over its own small world (publishing schedules cases, which
the shared site's tests must not see)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import _free_socket, _require_browser, watch_csp

pytestmark = pytest.mark.browser
CITY = "北京市"


def _prepare(engine: Any, tmp: Path, keys: tuple[object, object]) -> None:
    """A demo-like Beijing day: addresses over the city, two teams with a home base."""
    from doorstep.domain.access import Role
    from doorstep.services.conduct.personal_data import seal_position
    from doorstep.store.db import transaction
    from doorstep.store.models import ContactPoint, Team
    from tests.factories.people import add_team, add_user
    from tests.factories.world import build_world

    build_world(engine, tmp, keys, customers=12)
    with transaction(engine) as session:
        points = session.scalars(
            select(ContactPoint).where(ContactPoint.channel == "address").order_by(ContactPoint.id)
        ).all()
        for n, point in enumerate(points):
            point.position = seal_position(
                keys[0],  # type: ignore[arg-type]
                39.86 + 0.017 * (n % 5),
                116.31 + 0.035 * (n // 5),
            )
        members = [
            add_user(session, name, Role.VERIFIER, badge=name, display_name=name)
            for name in ("plan_b1", "plan_b2")
        ]
        add_team(session, "北京二组", CITY, members)
        for n, team in enumerate(session.scalars(select(Team).where(Team.city == CITY))):
            team.base_lat, team.base_lng = (39.90, 116.38) if n == 0 else (39.93, 116.45)
            team.max_visits = 3


@pytest.fixture(scope="module")
def plan_site(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[object, object]
) -> Iterator[tuple[str, Any]]:
    _require_browser()
    import uvicorn

    from tests.factories.databases import sqlite_database
    from tests.factories.web import make_app

    tmp = tmp_path_factory.mktemp("plans")
    engine = sqlite_database(tmp / "doorstep.db").engine
    _prepare(engine, tmp, keys)
    app = make_app(
        engine, None, tmp, var_dir=tmp, plan_seconds=30, plan_edit_seconds=30, plan_iterations=200
    )
    app.state.doorstep.cipher, app.state.doorstep.hasher = keys
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", engine
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        engine.dispose()


CSP: dict[int, list[str]] = {}
"""The Content-Security-Policy violations of each tab (by id), checked before it closes."""


def _tab(browser: Any, url: str) -> Any:
    context = browser.new_context(
        base_url=url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    CSP[id(page)] = watch_csp(context)
    return page


def _close(page: Any) -> None:
    """Close the tab; the map, the swatches and the forms broke no policy."""
    violations = CSP.pop(id(page))
    page.context.close()
    assert violations == [], "\n".join(violations)


def _sign_in(page: Any, username: str) -> None:
    from tests.factories.world import PASSWORD

    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/(cases|day)"))


def _zh(message: str) -> str:
    from doorstep.web.i18n import translations

    return translations("zh_CN").gettext(message)


def test_plan_move_reoptimise_publish_and_the_verifier_sees_the_route(
    browser: Any, plan_site: tuple[str, Any]
) -> None:
    from doorstep.config import Settings
    from doorstep.store.db import transaction
    from doorstep.store.models import PlanStop, Team

    url, engine = plan_site
    today = datetime.now(Settings().zone).date().isoformat()
    page = _tab(browser, url)
    _sign_in(page, "manager")
    page.click("nav a[href='/plans']")
    page.select_option("#run-plan select[name=city]", CITY)
    page.fill("#run-plan input[name=day]", today)
    page.fill("#run-plan input[name=seconds]", "1")
    page.click("#run-plan button[type=submit]")
    page.wait_for_url(re.compile(r"/plans/\d+$"))
    plan_url = page.url
    assert page.locator("#plan-state").inner_text() == _zh("draft")
    page.wait_for_selector("#plan-map[data-ready='1']")
    assert page.locator("#plan-map path.leaflet-interactive").count() >= 2  # lines and rings
    routes = page.locator("section.route")
    assert routes.count() == 2, "both teams go out"
    colours = page.locator(".swatch").evaluate_all(  # painted by paint.js, not a style attribute
        "els => els.map(e => getComputedStyle(e).backgroundColor)"
    )
    assert len(set(colours)) == 2 and "rgba(0, 0, 0, 0)" not in colours

    # Move the first stop of the first team to the other team.
    first, second = (int(routes.nth(i).get_attribute("data-team")) for i in range(2))
    row = page.locator(f"section.route[data-team='{first}'] tr.plan-stop").first
    moved = int(row.get_attribute("data-case"))
    row.locator("select[name=team_id]").select_option(str(second))
    row.locator("form.move-stop button").click()
    page.wait_for_load_state()
    target = page.locator(f"section.route[data-team='{second}'] tr[data-case='{moved}']")
    assert target.count() == 1
    assert _zh("locked") in target.inner_text()

    # Drag a stop of the second team onto the first team's route.
    dragged_row = page.locator(
        f"section.route[data-team='{second}'] tr.plan-stop:not([data-case='{moved}'])"
    ).last
    dragged = int(dragged_row.get_attribute("data-case"))
    with page.expect_navigation():
        dragged_row.drag_to(page.locator(f"section.route[data-team='{first}'] h2"))
    assert (
        page.locator(f"section.route[data-team='{first}'] tr[data-case='{dragged}']").count() == 1
    )

    # A second manager's tab still holds the old version: its edit is refused (409).
    stale = _tab(browser, url)
    _sign_in(stale, "manager")
    stale.goto(plan_url)
    page.click("#reoptimise button")  # the first manager re-optimises
    page.wait_for_load_state()
    assert page.locator(f"section.route[data-team='{second}'] tr[data-case='{moved}']").count() == 1
    with stale.expect_response(re.compile(r"/reoptimise$")) as answer:
        stale.click("#reoptimise button")
    assert answer.value.status == 409
    assert "外访计划已被他人修改" in stale.content()
    stale.context.close()

    page.goto(plan_url)
    page.click("#publish button")
    page.wait_for_load_state()
    assert page.locator("#plan-state").inner_text() == _zh("published")
    plan_id = int(plan_url.rsplit("/", 1)[1])
    with transaction(engine) as session:
        route = session.scalars(
            select(PlanStop.case_id)
            .where(PlanStop.plan_id == plan_id, PlanStop.team_id == second)
            .order_by(PlanStop.seq)
        ).all()
        team = session.get(Team, second)
        assert team is not None and team.name == "北京二组"
    assert moved in route
    _close(page)

    verifier = _tab(browser, url)
    _sign_in(verifier, "plan_b1")
    verifier.goto(f"/day?date={today}")
    shown = [
        int(x)
        for x in verifier.locator("[data-testid=stop]").evaluate_all(
            "els => els.map(e => e.dataset.case)"
        )
    ]
    assert shown == list(route), "the day page lists the team's stops in route order"
    _close(verifier)
