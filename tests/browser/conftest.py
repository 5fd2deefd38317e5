"""Browser tests: the real app under uvicorn on a free local port, driven by Debian's
chromium through Playwright (which cannot download its own browsers here).

One small world (SQLite) and one server per test session; each test gets a fresh browser
context, so cookies (session, language) never leak from one test to the next. Tests that
change a case use a case no other test looks at.

Without /usr/bin/chromium (or $DOORSTEP_CHROMIUM) or the `playwright` package every browser
test is SKIPPED with the reason, and the run's summary says so in red: a clone without
chromium still passes.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("DOORSTEP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_skipped: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the pages in chromium through Playwright (skipped without it)"
    )


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the `playwright` Python package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {_skipped[0]}", red=True)


def _require_browser() -> None:
    problem = browser_problem()
    if problem:
        if not _skipped:
            _skipped.append(problem)
        pytest.skip(f"BROWSER TESTS SKIPPED: {problem}")


@dataclass
class Site:
    """The running app: its address and the world behind it."""

    url: str
    world: Any
    spare_cases: list[int]
    shots: Path
    dialogs: list[str] = field(default_factory=list)


SPREAD = {0: ("M1", 15, 120_000), 1: ("M1", 22, 98_000), 2: ("M5", 130, 2_450_000)}  # fen
"""The small world's cases are all alike (M3, 83 days); give three spare Beijing cases
other buckets so that the filters have something to tell apart."""


def _vary_cases(engine: Any, world: Any) -> list[int]:
    from sqlalchemy import select, update

    from doorstep.store.db import transaction
    from doorstep.store.models import Case

    with transaction(engine) as session:
        beijing = session.scalars(
            select(Case.id).where(Case.city == "北京市").order_by(Case.id)
        ).all()
        spare = [i for i in beijing if i not in (world.assigned_case, world.other_case)]
        for n, case_id in enumerate(spare):
            if n in SPREAD:
                bucket, dpd, fen = SPREAD[n]
                session.execute(
                    update(Case)
                    .where(Case.id == case_id)
                    .values(bucket=bucket, max_dpd=dpd, overdue_amount=fen)
                )
    return spare  # the last one keeps its figures: the tests that act on a case use it


def _free_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, keys: tuple[object, object]) -> Iterator[Site]:
    """The app on a free 127.0.0.1 port, in a background thread, over a small world."""
    _require_browser()
    import uvicorn

    from tests.factories.databases import sqlite_database
    from tests.factories.web import make_app
    from tests.factories.world import ANYTIME_RULES, build_world

    tmp = tmp_path_factory.mktemp("site")
    engine = sqlite_database(tmp / "doorstep.db").engine
    world = build_world(engine, tmp, keys)
    spare = _vary_cases(engine, world)
    # the pages act at the real time of day: no quiet hours here (see the file)
    app = make_app(engine, world, tmp, var_dir=tmp, rules_file=ANYTIME_RULES)

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
        yield Site(f"http://127.0.0.1:{port}", world, spare, shots)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def watch_csp(context: Any) -> list[str]:
    """The Content-Security-Policy violations chromium reports in `context` (its console
    says "Refused to ... because it violates the following Content Security Policy
    directive"), collected as they happen: a test asserts the list stays empty."""
    violations: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else ''}: {message.text}")

    context.on("console", on_console)
    return violations


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh context (no cookies) in Chinese, the default language; dialogs are recorded
    and dismissed, so a script that fires one fails the XSS test instead of hanging. A
    page that breaks the Content-Security-Policy fails the test that opened it."""
    context = browser.new_context(
        base_url=site.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    violations = watch_csp(context)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    site.dialogs.clear()

    def on_dialog(dialog: Any) -> None:
        site.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    try:
        yield tab
        assert violations == [], "\n".join(violations)
    finally:
        context.close()
