"""The borrower portal at phone size (390×844): sign in with a one-time code, tell us first
(the case is held and the manager sees the alert), compare the offered plans, choose one
and confirm its agreement with a code; the next delinquency batch measures the loan
against the new schedule. Wrong and foreign details, wrong codes and a tampered plan id
are refused and change nothing."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.calendar import add_months
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.services.delinquency import run_delinquency
from doorstep.store.db import transaction
from doorstep.store.models import (
    Case,
    DelinquencySnapshot,
    Installment,
    Loan,
    Offer,
    ScheduleVersion,
)
from tests.browser.conftest import Site, watch_csp
from tests.browser.test_manager_pages import sign_in, zh

pytestmark = pytest.mark.browser


class Codes(logging.Handler):
    """The codes the default SMS sender writes to the log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.codes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"(\d{6})", record.getMessage())
        if found:
            self.codes.append(found.group(1))


@pytest.fixture
def codes() -> Iterator[Codes]:
    logger = logging.getLogger("doorstep.sms")
    handler, level = Codes(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def phone(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(
        base_url=site.url,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    tab = context.new_page()
    try:
        yield tab
        assert violations == [], "\n".join(violations)  # the portal's styles are a file now
    finally:
        context.close()


def facts(site: Site, case_id: int) -> tuple[str, str, str]:
    """(customer id, loan id, mobile) of the case's borrower."""
    with Session(site.world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalars(select(Loan).where(Loan.customer_id == case.customer_id)).one()
        return case.customer_id, loan.loan_id, site.world.phones[int(case.customer_id[1:]) - 1]


def schedule(site: Site, loan_id: str) -> list[tuple[Any, ...]]:
    with Session(site.world.engine) as session:
        rows = session.scalars(
            select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.seq)
        )
        return [(r.seq, r.due_on, r.principal_due, r.interest_due) for r in rows]


def test_borrower_tells_us_first_compares_plans_and_accepts_one(
    page: Any, phone: Any, site: Site, codes: Codes
) -> None:
    case_id = site.spare_cases[1]
    _, loan_id, mobile = facts(site, case_id)
    _, other_loan, _ = facts(site, site.spare_cases[0])
    original = schedule(site, loan_id)

    # The manager builds options and offers two of them.
    sign_in(page, "manager")
    page.goto(f"/cases/{case_id}")
    page.click(f"#plans-panel a.build-offer[href$='loan_id={loan_id}']")
    page.wait_for_url(re.compile(r"/offers/new"))
    keys = [
        row.get_attribute("data-key")
        for row in page.query_selector_all("table.options tr[data-key]")
    ]
    chosen = [k for k in keys if k.startswith(("reschedule-", "extend-"))][:2]
    assert len(chosen) == 2
    for key in chosen:
        page.check(f"input[name=keys][value='{key}']")
    page.click("#make-offer button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{case_id}"))
    page.wait_for_selector("#plans-panel tr[data-state=offered]")

    # Sign-in: another borrower's loan number, then a wrong code, are refused.
    phone.goto("/portal")
    phone.wait_for_url(re.compile(r"/portal/sign-in"))
    phone.fill("input[name=loan_id]", other_loan)
    phone.fill("input[name=mobile]", mobile)
    phone.click("button[type=submit]")
    assert phone.inner_text("#error") == "贷款编号与手机号码不匹配"
    assert codes.codes == []
    phone.fill("input[name=loan_id]", loan_id)
    phone.fill("input[name=mobile]", mobile)
    phone.click("button[type=submit]")
    phone.wait_for_selector("input[name=code]")
    assert len(codes.codes) == 1
    code = codes.codes[0]
    phone.fill("input[name=code]", f"{(int(code) + 1) % 10**6:06d}")
    phone.click("button[type=submit]")
    assert "验证码错误" in phone.inner_text("#error")
    phone.fill("input[name=code]", code)
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/portal$"))
    assert phone.is_visible(f"#overdue-{loan_id}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    phone.screenshot(path=str(site.shots / "portal-home.png"), full_page=True)

    # Tell us first: the case is held, the manager sees the alert.
    phone.click("a[href='/portal/tell-us']")
    phone.select_option("#hardship select[name=reason]", "medical")
    phone.fill("#hardship textarea[name=statement]", "住院两个月，收入中断")
    phone.click("#hardship button[type=submit]")
    phone.wait_for_selector("#notice")
    with Session(site.world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason == "hardship_reported"
    page.goto(f"/cases/{case_id}")
    alert = page.wait_for_selector("#plans-panel li[data-kind=hardship]")
    assert "住院两个月" in alert.inner_text() and zh("medical") in alert.inner_text()

    # Compare the plans side by side, with their annualised rates.
    phone.goto("/portal/plans")
    cards = phone.query_selector_all("section.plan")
    assert [c.get_attribute("data-key") for c in cards] == chosen
    assert all(re.fullmatch(r"-?\d+\.\d\d%", c.query_selector(".rate").inner_text()) for c in cards)
    phone.screenshot(path=str(site.shots / "portal-plans.png"), full_page=True)

    # A tampered plan id is refused and changes nothing.
    phone.evaluate(
        "document.querySelector('section.plan input[name=plan]').value = 'settle-1-x-0-0-1-0-0.99'"
    )
    phone.click("section.plan >> nth=0 >> button[type=submit]")
    assert "不是本次提供的方案" in phone.inner_text("#error")
    assert schedule(site, loan_id) == original

    # Choose the first plan: its agreement, confirmed with a code sent to the mobile.
    phone.click(f"section.plan[data-key='{chosen[0]}'] button[type=submit]")
    phone.wait_for_url(re.compile(r"/portal/agreements/\d+$"))
    assert schedule(site, loan_id) == original  # nothing accepted before the confirmation
    phone.fill("#ask-code input[name=mobile]", mobile)
    phone.click("#ask-code button[type=submit]")
    phone.wait_for_selector("#confirm input[name=code]")
    phone.fill("#confirm input[name=code]", codes.codes[-1])
    phone.click("#confirm button[type=submit]")
    phone.wait_for_selector("#notice")
    assert phone.is_visible("#agreements a.download")
    with Session(site.world.engine) as session:
        offer = session.scalars(select(Offer).where(Offer.loan_id == loan_id)).one()
        assert offer.state == "active" and offer.accepted_key == chosen[0]
        versions = session.scalars(
            select(ScheduleVersion.version).where(ScheduleVersion.loan_id == loan_id)
        ).all()
        assert sorted(versions) == [1, 2]
    new = schedule(site, loan_id)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert new != original and new[0][1] == add_months(today, 1)

    # The next batch measures the loan against the new schedule: nothing is due yet.
    with transaction(site.world.engine) as session:
        run_delinquency(session, today, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
    with Session(site.world.engine) as session:
        snapshot = session.get(DelinquencySnapshot, (loan_id, today))
        other = session.get(DelinquencySnapshot, (other_loan, today))
        assert snapshot is not None and other is not None
        assert snapshot.dpd == 0 and snapshot.bucket == "M0"
        assert snapshot.outstanding_principal == sum(r[2] for r in new)
        assert other.dpd > 900  # the same loan on its original schedule, years late
