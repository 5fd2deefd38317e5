"""The conduct-rule pages in chromium: the effective pack with where each value came from,
the compliance report and its CSV, and who may see them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.factories.world import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cases$"))


def test_auditor_sees_the_effective_pack_and_origins(page: Any, site: Site) -> None:
    sign_in(page, "auditor")
    page.click("nav >> text=合规规则")
    page.wait_for_url("**/rules")
    assert page.locator("#jurisdiction").inner_text() == "cn"
    hours = page.locator("#rule-CN-HOURS")
    assert hours.locator("[data-param=start] .value").inner_text() == "22:00"
    assert hours.locator("[data-param=start] .origin").inner_text() == "cn.toml"
    assert "22:00–08:00" in hours.inner_text()  # the zh message with the effective values
    assert "禁止" in hours.inner_text()
    calls = page.locator("#rule-CN-CALLS-EFFECTIVE [data-param=max] .value")
    assert calls.inner_text() == "3"
    assert page.locator("#rules-table tbody tr").count() >= 20
    page.click("text=合规报告")
    page.wait_for_url("**/rules/report")
    assert page.locator("#report-table").is_visible()
    with page.expect_download() as download:
        page.click("#report-csv")
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        assert handle.readline().startswith("period_start,period_end,team,verifier")


def test_verifier_may_not_see_the_rules(page: Any, site: Site) -> None:
    sign_in(page, "verifier")
    assert page.locator("nav >> text=合规规则").count() == 0
    response = page.goto("/rules")
    assert response is not None and response.status == 403
    report = page.goto("/rules/report.csv")
    assert report is not None and report.status == 403


def test_a_bad_period_is_a_clear_error(page: Any, site: Site) -> None:
    sign_in(page, "auditor")
    response = page.goto("/rules/report?start=yesterday")
    assert response is not None and response.status == 422
    assert "YYYY-MM-DD" in page.content()
