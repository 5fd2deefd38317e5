"""The analyst's model pages in a real browser, over a small demo book on which a
visit_priority model was trained, activated and applied: the list, metrics, calibration
plot, feature importance, population stability and the fairness report; the verifier is
refused; activating another version from the page is audited."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import _free_socket, _require_browser, watch_csp

pytestmark = pytest.mark.browser
AS_OF = date(2025, 6, 30)
PASSWORD = "correct horse battery"


@dataclass
class ModelSite:
    url: str
    engine: Any
    active: int
    candidate: int
    shots: Path


@pytest.fixture(scope="module")
def model_site(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[Any, Any]
) -> Iterator[ModelSite]:
    _require_browser()
    import uvicorn

    from doorstep.app import create_app
    from doorstep.config import Settings
    from doorstep.demo.generate import generate_book
    from doorstep.domain.access import SYSTEM, Actor, Role
    from doorstep.domain.allocation import DEFAULT_WATERFALL
    from doorstep.domain.delinquency import DEFAULT_BUCKETS
    from doorstep.domain.ports import SystemClock
    from doorstep.domain.selection import SelectionPolicy
    from doorstep.scoring.pipeline import TrainingConfig
    from doorstep.services import scoring
    from doorstep.services.cases import select_cases
    from doorstep.services.delinquency import run_delinquency
    from doorstep.services.ingest import ingest_files
    from doorstep.store.db import transaction
    from tests.factories.databases import sqlite_database
    from tests.factories.people import CHEAP_HASHER, add_user

    tmp = tmp_path_factory.mktemp("models")
    engine = sqlite_database(tmp / "doorstep.db").engine
    folder = tmp / "book"
    generate_book(folder, customers=1_500, seed=5, as_of=AS_OF)
    (folder / "demo_truth.csv").unlink()
    cipher, hasher = keys
    with transaction(engine) as session:
        ingest_files(
            session,
            [folder],
            zone=ZoneInfo("Asia/Shanghai"),
            reports_dir=tmp / "r",
            cipher=cipher,
            hasher=hasher,
        )  # type: ignore[arg-type]
    with transaction(engine) as session:
        run_delinquency(session, AS_OF, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
    analyst = Actor("analyst", Role.ANALYST)
    fast = TrainingConfig(folds=2, calibration_folds=2, reference_rows=1000)
    with transaction(engine) as session:
        for name, role in (("analyst", Role.ANALYST), ("verifier", Role.VERIFIER)):
            add_user(session, name, role, display_name=name, password=PASSWORD)
        trained = [
            scoring.train_visit_priority(
                session,
                analyst,
                AS_OF,
                config=fast,
                waterfall=DEFAULT_WATERFALL,
                buckets=DEFAULT_BUCKETS,
                clock=SystemClock(),
                windows=4,
            )
            for _ in range(2)
        ]
        scoring.activate(
            session, analyst, trained[0].id, now=SystemClock().now(), reason="browser test"
        )
    with transaction(engine) as session:
        scoring.apply(
            session,
            SYSTEM,
            AS_OF,
            waterfall=DEFAULT_WATERFALL,
            buckets=DEFAULT_BUCKETS,
            clock=SystemClock(),
        )
        select_cases(
            session,
            SYSTEM,
            AS_OF,
            policy=SelectionPolicy(),
            capacity=40,
            buckets=DEFAULT_BUCKETS,
        )
    app = create_app(Settings(var_dir=tmp), engine=engine, password_hasher=CHEAP_HASHER)
    app.state.doorstep.cipher, app.state.doorstep.hasher = cipher, hasher
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    shots = tmp / "screenshots"
    shots.mkdir()
    try:
        yield ModelSite(f"http://127.0.0.1:{port}", engine, trained[0].id, trained[1].id, shots)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        engine.dispose()


@pytest.fixture
def tab(browser: Any, model_site: ModelSite) -> Iterator[Any]:
    """A fresh context on this module's site, from the session's chromium (one Playwright
    per process: a second sync_playwright would find the first one's event loop)."""
    context = browser.new_context(
        base_url=model_site.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    try:
        yield page
        assert violations == [], "\n".join(violations)  # the importance bars included
    finally:
        context.close()


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def test_analyst_reads_the_model_pages(tab: Any, model_site: ModelSite) -> None:
    sign_in(tab, "analyst")
    tab.click("header.topbar nav a[href='/models']")
    tab.wait_for_url("**/models")
    assert tab.inner_text("h1") == "模型"
    rows = tab.locator("#model-list tr[data-model]")
    assert rows.count() == 2
    assert tab.get_attribute(f"tr[data-model='{model_site.active}']", "data-status") == "active"
    assert "使用中" in tab.inner_text(f"tr[data-model='{model_site.active}']")
    tab.screenshot(path=model_site.shots / "models.png", full_page=True)

    tab.click(f"tr[data-model='{model_site.active}'] a")
    tab.wait_for_url(f"**/models/{model_site.active}")
    auc = float(tab.inner_text("[data-metric=auc]").split()[0])
    assert 0.7 < auc <= 1.0
    assert tab.locator("#calibration svg circle").count() == 10
    assert tab.locator("#calibration-table tbody tr").count() == 10
    assert tab.locator("#importance tr[data-feature]").count() >= 10
    assert "逾期天数" in tab.inner_text("#importance")  # feature names in Chinese
    psi = tab.locator("#psi-table tr[data-psi]")
    assert psi.count() >= 10 and tab.locator("#psi-table tr[data-psi='score']").count() == 1
    tables = tab.locator("#fairness table.fairness")
    assert tables.count() == 2
    assert tab.locator("#fairness table[data-attribute=gender] tbody tr").count() == 2
    assert "性别和年龄从不作为模型输入" in tab.inner_text("#fairness")
    tab.screenshot(path=model_site.shots / "model.png", full_page=True)


def test_analyst_activates_another_version(tab: Any, model_site: ModelSite) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from doorstep.store.models import AuditEvent, ModelVersion

    sign_in(tab, "analyst")
    tab.goto(f"/models/{model_site.candidate}")
    tab.fill("#activate input[name=reason]", "second version tested")
    with tab.expect_navigation():
        tab.click("#activate button[type=submit]")
    assert tab.inner_text("#model-status") == "使用中"
    with Session(model_site.engine) as session:
        statuses = dict(session.execute(select(ModelVersion.id, ModelVersion.status)).all())
        assert statuses == {model_site.active: "retired", model_site.candidate: "active"}
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "model.activate")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None and event.actor == "analyst"
        assert event.reason == "second version tested"


def test_verifier_may_not_read_models(tab: Any, model_site: ModelSite) -> None:
    sign_in(tab, "verifier")
    assert tab.locator("header.topbar nav a[href='/models']").count() == 0
    response = tab.goto("/models")
    assert response.status == 403
    response = tab.goto(f"/models/{model_site.active}")
    assert response.status == 403
