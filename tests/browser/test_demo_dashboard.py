"""The dashboard over a simulated demo: after weeks of simulated field work (daily batch,
published plans, visits, promises, payments), every chart has real values, and the cure
chart compares visited customers with the selection's holdout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import _free_socket, _require_browser
from tests.factories.people import CHEAP_HASHER
from tests.integration.test_demo_simulation import build_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DAYS = 36  # more than the 30-day cure window, so the first cohorts are judged


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Path]]:
    """A 1,200-customer demo with DAYS simulated days, served on a free local port."""
    _require_browser()
    import uvicorn

    from doorstep.app import create_app

    tmp = tmp_path_factory.mktemp("demo")
    # a large holdout: a small book has few customers to keep back at 5%. The first
    # cohorts judged after 30 days are a handful of customers, and the days simulated start
    # today: 600 customers sometimes left every visited one without a payment in its 30 days
    # (an empty recovery chart); 1,200 give each cohort more customers.
    engine, config, summary, logins = build_demo(
        tmp, customers=1200, days=DAYS, seed=8, holdout="0.3"
    )
    assert summary.visits > 0, summary
    app = create_app(config, engine=engine, password_hasher=CHEAP_HASHER)
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    password = {login.username: login.password for login in logins}["admin"]
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", (summary, password), tmp
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        engine.dispose()


def test_every_chart_of_the_simulated_demo_has_real_values(
    demo_site: tuple[str, Any, Path], browser: Any
) -> None:
    # the session's chromium (one Playwright per process: a second one cannot start)
    url, (summary, password), tmp = demo_site
    context = browser.new_context(
        base_url=url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url("**/cases")
        page.goto(f"/dashboard?until={summary.last_day.isoformat()}&days=90")
        page.wait_for_selector("canvas[data-chart='visits_per_day'][data-drawn='true']")
        data = page.evaluate(
            "() => JSON.parse(document.getElementById('dashboard-data').textContent)"
        )
        charts = {c["key"]: c for c in data["charts"]}
        for key, chart in charts.items():
            values = [v for s in chart["series"] for v in s["values"]]
            assert chart["labels"] and any(values), f"chart {key} is empty"
        visits = sum(charts["visits_per_day"]["series"][0]["values"])
        assert visits > 0
        reach = charts["rates"]["series"][0]["values"][0]
        assert 0 < reach < 100
        cure = charts["cure"]
        customers = next(s for s in cure["series"] if s["name"] != cure["series"][0]["name"])
        assert all(n > 0 for n in customers["values"]), cure  # visited and holdout
        assert page.locator("table.roll tbody tr").count() > 0  # the roll matrix
        page.screenshot(path=str(tmp / "demo-dashboard.png"), full_page=True)
    finally:
        context.close()
