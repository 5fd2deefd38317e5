"""The Content-Security-Policy in chromium: every main page, signed in as each role,
loads without a single violation (no inline script, event handler or style left), and
htmx still works under it (a filter swaps the case table, a reveal swaps the number in
place, a panel loads itself). A style attribute slipped into a page is reported: the
watch would see a regression."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Site, watch_csp
from tests.browser.test_manager_pages import apply_filters, sign_in

pytestmark = pytest.mark.browser

PAGES = {
    "manager": ["/cases", "/cases/{case}", "/dashboard", "/plans", "/alerts", "/rules", "/batch",
                "/feedback/dead-letters", "/models"],
    "verifier": ["/cases", "/cases/{assigned}", "/day"],
    "auditor": ["/cases", "/cases/{case}", "/alerts", "/rules", "/rules/report", "/complaints",
                "/models", "/dashboard"],
    "analyst": ["/cases", "/models", "/dashboard"],
    "admin": ["/cases", "/alerts", "/batch", "/plans", "/complaints", "/feedback/dead-letters"],
}  # fmt: skip


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(
        base_url=site.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    try:
        yield context.new_page(), violations
    finally:
        context.close()


def visit(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 500, url
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")  # htmx's load-triggered panels included


@pytest.mark.parametrize("role", list(PAGES))
def test_the_main_pages_of_each_role_break_no_policy(
    tab: tuple[Any, list[str]], site: Site, role: str
) -> None:
    page, violations = tab
    sign_in(page, role)
    for template in PAGES[role]:
        visit(page, template.format(case=site.spare_cases[0], assigned=site.world.assigned_case))
    assert violations == [], "\n".join(violations)


def test_anonymous_pages_break_no_policy(tab: tuple[Any, list[str]]) -> None:
    page, violations = tab
    for url in ("/login", "/portal"):
        visit(page, url)
    assert violations == [], "\n".join(violations)


def test_htmx_swaps_content_under_the_policy(tab: tuple[Any, list[str]], site: Site) -> None:
    page, violations = tab
    sign_in(page, "manager")
    apply_filters(page, bucket="M1")  # htmx swaps the table, no page load
    case_id = site.spare_cases[0]
    visit(page, f"/cases/{case_id}")
    panel = page.locator("#plans-panel")  # hx-trigger="load" replaced the placeholder
    assert panel.count() == 1 and panel.inner_text().strip() != "…"
    form = page.locator("form.reveal").first
    form.locator("select[name=purpose]").select_option("complaint_handling")
    with page.expect_response(f"**/cases/{case_id}/reveal"):
        form.locator("button").click()
    page.locator("#id-number .revealed").wait_for()
    assert page.inner_text("#id-number .revealed") in site.world.id_numbers
    assert violations == [], "\n".join(violations)


def test_the_watch_sees_a_violation(tab: tuple[Any, list[str]]) -> None:
    page, violations = tab
    visit(page, "/login")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
    page.wait_for_timeout(200)
    assert violations and "style" in violations[0]
