"""The pages in a real browser: a manager filters, opens a case and reveals a phone; a
verifier sees only the assigned case; the language switch; XSS-shaped input stays text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.factories.world import PASSWORD

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/cases$"))


def zh(message: str) -> str:
    from doorstep.web.i18n import translations

    return translations("zh_CN").gettext(message)


def state_of(site: Site, case_id: int) -> str:
    from sqlalchemy.orm import Session

    from doorstep.store.models import Case

    with Session(site.world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.state


def shown_cases(page: Any) -> list[int]:
    return [int(row.get_attribute("data-case")) for row in page.query_selector_all("tr[data-case]")]


def total(page: Any) -> int:
    return int(page.get_attribute("#case-count", "data-total"))


def apply_filters(page: Any, **fields: str) -> None:
    """Fill the filter form and submit it; htmx swaps only the table (no page load)."""
    page.evaluate(
        "window.__samePage = true;document.querySelector('#case-count').dataset.stale = 'yes'"
    )
    for name, value in fields.items():
        if name in ("bucket", "state", "on_hold", "skip_trace"):
            page.select_option(f"form.filters select[name={name}]", value)
        else:
            page.fill(f"form.filters input[name={name}]", value)
    with page.expect_response(lambda r: "/cases?" in r.url and r.request.headers.get("hx-request")):
        page.click("#apply-filters")
    page.locator("#case-count:not([data-stale])").wait_for()  # swapped (no eval: the CSP)
    assert page.evaluate("window.__samePage") is True, "the filter reloaded the whole page"


def test_manager_filters_opens_a_case_and_reveals_a_phone(page: Any, site: Site) -> None:
    world = site.world
    sign_in(page, "manager")
    assert page.inner_text("h1") == "案件"
    everyone = shown_cases(page)
    assert world.assigned_case in everyone and world.shanghai_case not in everyone  # region
    assert total(page) == len(everyone) == 6
    page.screenshot(path=site.shots / "case-list.png", full_page=True)

    apply_filters(page, bucket="M1")
    assert total(page) == 2 and sorted(shown_cases(page)) == sorted(site.spare_cases[:2])
    assert "bucket=M1" in page.url  # hx-push-url: the filtered list can be bookmarked
    assert page.locator("#case-count").inner_text() == "共 2 个案件"

    apply_filters(page, bucket="", min_dpd="60", max_dpd="100")
    assert total(page) == 3 and world.assigned_case in shown_cases(page)
    assert all(60 <= int(d) <= 100 for d in page.locator("tr[data-case] td.dpd").all_inner_texts())

    apply_filters(page, min_dpd="500", max_dpd="")
    assert total(page) == 0 and shown_cases(page) == []
    assert page.locator("#case-table td.empty").count() == 1

    apply_filters(page, bucket="M3", min_dpd="")
    page.click(f"tr[data-case='{world.assigned_case}'] a >> nth=0")
    page.wait_for_url(f"**/cases/{world.assigned_case}")
    page.go_back()  # to the URL htmx pushed: the whole page again, not the bare table
    page.wait_for_selector("form.filters")
    assert page.locator("header.topbar").count() == 1 and total(page) == 3
    page.go_forward()
    page.wait_for_url(f"**/cases/{world.assigned_case}")
    assert page.inner_text("#case-state") == zh(state_of(site, world.assigned_case))

    phone = page.locator("tr[data-point][data-channel=phone]").first
    point = phone.get_attribute("data-point")
    masked = page.inner_text(f"#point-{point}")
    assert "*" in masked
    phone.locator("select[name=purpose]").select_option("other")
    phone.locator("input[name=reason]").fill("    ")  # "other" needs words: the server says
    with page.expect_response(f"**/cases/{world.assigned_case}/reveal") as refused:
        phone.locator("button", has_text="查看").click()
    assert refused.value.status == 422
    page.locator(f"#point-{point} .error").wait_for()  # the reason is shown in place
    assert "请说明用途" in page.inner_text(f"#point-{point}")
    reason = "客户来电要求核对联系方式"
    phone.locator("select[name=purpose]").select_option("borrower_request")
    phone.locator("input[name=reason]").fill(reason)
    with page.expect_response(f"**/cases/{world.assigned_case}/reveal"):
        phone.locator("button", has_text="查看").click()
    clear = page.locator(f"#point-{point} .revealed")  # the error replaced by the number
    clear.wait_for()
    assert clear.inner_text() in world.phones and "*" not in clear.inner_text()
    assert clear.inner_text()[-4:] == masked[-4:]
    page.screenshot(path=site.shots / "case-page.png", full_page=True)

    page.reload()
    assert "*" in page.inner_text(f"#point-{point}")  # revealed once, masked again on reload
    entry = page.locator("#timeline li[data-action='personal_data.reveal']")
    assert entry.count() == 1
    assert reason in entry.inner_text() and "manager" in entry.inner_text()
    assert "借款人本人要求" in entry.inner_text()  # the purpose, in words
    assert not site.dialogs


def test_verifier_sees_the_assigned_case_only(page: Any, site: Site) -> None:
    world = site.world
    sign_in(page, "verifier")
    assert shown_cases(page) == [world.assigned_case]

    response = page.goto(f"/cases/{world.assigned_case}")
    assert response.status == 200
    assert page.inner_text("#case-state")

    response = page.goto(f"/cases/{world.other_case}")
    assert response.status == 404
    assert page.get_attribute("#error", "data-status") == "404"
    assert "没有案件" in page.inner_text("#error")
    assert page.locator("#error a[href='/cases']").count() == 1  # a way back, not a dead end
    assert page.locator("#point-1, #id-number").count() == 0
    page.screenshot(path=site.shots / "not-found.png")


def test_language_switch(page: Any, site: Site) -> None:
    sign_in(page, "manager")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "案件"

    page.click("a[data-lang=en]")
    page.wait_for_selector("html[lang=en]", state="attached")
    assert page.inner_text("h1") == "Cases"
    assert page.locator("#apply-filters").inner_text() == "Filter"
    page.screenshot(path=site.shots / "case-list-en.png", full_page=True)
    page.goto(f"/cases/{site.world.assigned_case}")
    assert page.locator("h2", has_text="Timeline").count() == 1
    page.screenshot(path=site.shots / "case-page-en.png", full_page=True)

    page.click("a[data-lang=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    assert page.url.endswith(f"/cases/{site.world.assigned_case}")  # back where we were
    assert page.locator("h2", has_text="时间线").count() == 1


def test_xss_shaped_input_renders_inert(page: Any, site: Site) -> None:
    case_id = site.spare_cases[-1]
    sign_in(page, "manager")
    page.goto(f"/cases/{case_id}")
    hold = page.locator("form.action[data-action=hold]")
    hold.locator("select[name=hold_reason]").select_option("complaint")
    hold.locator("input[name=reason]").fill(XSS)
    hold.locator("button").click()
    page.wait_for_url(f"**/cases/{case_id}")
    page.wait_for_load_state("networkidle")

    entry = page.locator("#timeline li[data-action='case.hold']")
    assert XSS in entry.inner_text()  # shown as text ...
    assert page.locator("#timeline img").count() == 0  # ... never as an element
    assert page.locator(".tag.hold").count() == 1

    page.goto("/cases?city=" + '"><script>alert(2)</script>' + XSS)
    page.wait_for_load_state("networkidle")
    assert page.locator("main img, main script").count() == 0
    assert site.dialogs == [], f"a script ran: {site.dialogs}"
