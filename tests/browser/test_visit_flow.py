"""A whole visit on a phone (390×844): today's route, the dossier, a check-in refused
3 km away then accepted at the door (mocked geolocation), the interview with a refused
answer and a refused file (the draft survives a reload), a photo, a double tap on submit
→ one visit; then the supervisor sees the verdict and closes the case.

The test brings its own team (two verifiers), a Shanghai supervisor and a Shanghai case,
so the other browser tests' users and cases stay as they were."""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from doorstep.domain.errors import SignatureError
from tests.browser.conftest import Site, watch_csp
from tests.factories.world import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOOR = {"latitude": 39.9001, "longitude": 116.4401, "accuracy": 18}
FAR = {"latitude": 39.927, "longitude": 116.44, "accuracy": 18}  # 3 km north


@dataclass
class LenderReceiver:
    """The lender's webhook endpoint: a real HTTP server that checks every signature."""

    secret: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    server: Any = None
    endpoint_id: int = 0

    @classmethod
    def start(cls, site: Site) -> LenderReceiver:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from doorstep.domain.access import SYSTEM
        from doorstep.integrations import webhooks
        from doorstep.services.lender import feedback
        from doorstep.store.db import transaction

        state = cls()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    webhooks.verify(state.secret, self.headers[webhooks.SIGNATURE_HEADER], body)
                    state.bodies.append(json.loads(body))
                except SignatureError:
                    state.bad_signatures += 1
                self.send_response(200)
                self.end_headers()

        state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=state.server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{state.server.server_address[1]}/doorstep"
        with transaction(site.world.engine) as session:
            endpoint, state.secret = feedback.add_endpoint(
                session,
                SYSTEM,
                url,
                site.world.cipher,
                topics=("visit.verdict", "case.closed"),
                destinations=feedback.Destinations(allow_private=True),  # http, 127.0.0.1
            )
            state.endpoint_id = endpoint.id
        return state

    def drain(self, site: Site) -> None:
        """Deliver what is due, then stop listening and switch the endpoint off."""
        from doorstep.domain.ports import SystemClock
        from doorstep.services.lender.feedback import Destinations, RetryPolicy, deliver_due
        from doorstep.store.db import transaction
        from doorstep.store.models import WebhookEndpoint

        policy = RetryPolicy(
            max_attempts=3,
            timeout=5,
            backoff=0.01,
            backoff_max=0.05,
            destinations=Destinations(allow_private=True),
        )
        try:
            clock = SystemClock()
            while deliver_due(site.world.engine, site.world.cipher, policy, clock=clock).claimed:
                pass
        finally:
            self.server.shutdown()
            with transaction(site.world.engine) as session:
                endpoint = session.get(WebhookEndpoint, self.endpoint_id)
                if endpoint is not None:
                    endpoint.active = False


def feedback_export(site: Site) -> list[dict[str, Any]]:
    """What `doorstep export feedback --format jsonl` writes for today."""
    from doorstep.cli.feedback import FeedbackFormat, write_feedback

    out = io.StringIO()
    start = datetime.now(UTC) - timedelta(days=1)
    write_feedback(site.world.engine, start, FeedbackFormat.jsonl, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def zh(message: str) -> str:
    from doorstep.web.i18n import translations

    return translations("zh_CN").gettext(message)


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 140, 200)).save(out, "JPEG")
    return out.getvalue()


def prepare(site: Site) -> int:
    """Two verifiers in a Shanghai team, their supervisor, and a Shanghai case scheduled
    for them in today's published plan. Returns the case id."""
    from sqlalchemy import select

    from doorstep.domain.access import SYSTEM, Role
    from doorstep.services import cases
    from doorstep.services.people import teams
    from doorstep.store.db import transaction
    from doorstep.store.models import Case, PlanStop, VisitPlan
    from tests.factories.people import add_user

    world = site.world
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    with transaction(world.engine) as session:
        made = [
            add_user(session, name, Role.VERIFIER, badge=f"SH-{n}", display_name=name)
            for n, name in enumerate(("field_a", "field_b"), start=1)
        ]
        add_user(session, "manager_sh", Role.MANAGER, regions=["上海市"], display_name="Shanghai")
        team = teams.create_team(session, SYSTEM, "上海外访一组", "上海市", made)
        case_id = session.scalars(
            select(Case.id)
            .where(Case.city == "上海市", Case.id != world.shanghai_case)
            .order_by(Case.id)
        ).first()
        assert case_id is not None
        teams.assign(
            session, SYSTEM, case_id, team.id, now - timedelta(hours=1), now + timedelta(hours=8)
        )
        case = session.get(Case, case_id)
        assert case is not None
        if case.state != "ready":
            cases.act(session, SYSTEM, case_id, "mark_ready")
        cases.act(session, SYSTEM, case_id, "schedule")
        plan = VisitPlan(
            city="上海市", day=today, state="published", seconds=1, cost=0, distance_m=0
        )
        session.add(plan)
        session.flush()
        session.add(
            PlanStop(
                plan_id=plan.id,
                case_id=case_id,
                team_id=team.id,
                seq=1,
                arrive_at=now + timedelta(minutes=20),
                start_at=now + timedelta(minutes=20),
                end_at=now + timedelta(minutes=50),
                window_start=now,
                window_end=now + timedelta(hours=2),
                status="planned",
            )
        )
    return case_id


def sign_in(page: Any, username: str, then: str) -> None:
    page.goto(f"/login?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(re.escape(then) + "$"))


def counts(site: Site, case_id: int) -> tuple[int, int, str]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from doorstep.store.models import Case, Verdict, Visit

    with Session(site.world.engine) as session:
        visits = session.scalar(select(func.count()).where(Visit.case_id == case_id)) or 0
        verdicts = session.scalar(select(func.count()).where(Verdict.case_id == case_id)) or 0
        case = session.get(Case, case_id)
        assert case is not None
        return visits, verdicts, case.state


def any_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CN pack without its quiet hours: the test runs at any time of day (the hours
    rule has its own tests); every other conduct rule stays."""
    from dataclasses import replace

    from doorstep.domain.rules import load as load_pack
    from doorstep.web.routes import visits as visit_pages

    pack = load_pack("cn", ("any-hour.toml", "[rules.CN-HOURS]\nenabled = false\n"))
    original = visit_pages._rules
    monkeypatch.setattr(visit_pages, "_rules", lambda state: replace(original(state), pack=pack))


def test_a_whole_visit_on_a_phone(
    browser: Any, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    any_hour(monkeypatch)
    case_id = prepare(site)
    lender = LenderReceiver.start(site)
    context = browser.new_context(
        base_url=site.url,
        locale="zh-CN",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation=FAR,
        permissions=["geolocation"],
    )
    context.set_default_timeout(15_000)
    violations = watch_csp(context)  # the phone pages and visit.js: no inline code or style
    page = context.new_page()
    try:
        sign_in(page, "field_a", "/day")
        stop = page.locator(f"[data-testid=stop][data-case='{case_id}']")
        stop.wait_for()
        assert page.locator("[data-testid=stop]").count() == 1
        address = stop.locator(".revealed").inner_text()
        assert address in site.world.addresses  # revealed for the live assignment
        assert stop.locator("a.geo").get_attribute("href").startswith("geo:39.900000,116.440000")
        assert "uri.amap.com" in (stop.locator("a.map").get_attribute("href") or "")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=site.shots / "visit-day.png", full_page=True)

        dossier = stop.locator("a.dossier").get_attribute("href")
        assert dossier == f"/cases/{case_id}/dossier.pdf"
        pdf = page.request.get(dossier)
        if pdf.status != 404:  # the dossier route comes with its own issue item
            assert pdf.status == 200 and pdf.body()[:5] == b"%PDF-"

        # 3 km away: refused with a clear message, nothing recorded
        for affirmation in ("partner_present", "id_shown", "recording_on"):
            stop.locator(f"input[name={affirmation}]").check()
        stop.locator("form.checkin button").click()
        page.wait_for_url(f"**/cases/{case_id}/check-in")
        message = page.inner_text("#checkin-problem")
        assert "3.0 公里" in message and "500 米" in message
        assert counts(site, case_id) == (0, 0, "scheduled")
        page.screenshot(path=site.shots / "visit-too-far.png", full_page=True)

        # at the door
        context.set_geolocation(DOOR)
        page.click("form.checkin[data-geo] button")
        page.wait_for_url(re.compile(r"/visits/\d+$"))
        visit_id = int(page.url.rsplit("/", 1)[1])
        assert counts(site, case_id) == (1, 0, "visiting")
        assert int(page.inner_text("#distance")) < 30
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # SOS: at once, with the position
        page.click("form.sos button")
        page.locator("#sos-sent").wait_for()

        # a missing answer: named, and the draft survives a reload
        page.check("input[name=met][value=borrower]")
        page.check("input[name=disclosure_ack]")
        page.check("input[name=address_status][value=valid]")
        page.check("input[name=reasons][value=income_drop]")
        page.select_option("select[name=primary_reason]", "income_drop")
        page.fill("input[name=ability_per_month]", "600")
        page.select_option("select[name=leaning]", "hardship")
        page.fill("textarea[name=statement]", "店铺生意下滑，收入减少")
        page.click("#submit-visit")
        page.locator("#form-error").wait_for()
        assert zh("willingness to pay") in page.inner_text("[data-error-for=willingness]") or (
            "还款意愿" in page.inner_text("[data-error-for=willingness]")
        )
        page.reload()
        page.locator("#draft-note").wait_for()
        assert page.is_checked("input[name=met][value=borrower]")
        assert page.input_value("input[name=ability_per_month]") == "600"
        assert page.input_value("textarea[name=statement]") == "店铺生意下滑，收入减少"

        # a file that only claims to be a photo is refused by its content
        page.select_option("select[name=willingness]", "3")
        page.set_input_files(
            "input[name=evidence]",
            files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"}],
        )
        page.click("#submit-visit")
        # a locator, not wait_for_function: the page's CSP forbids the eval that polls with
        page.locator("[data-error-for=evidence]", has_text="door.jpg").wait_for()
        assert "door.jpg" in page.inner_text("[data-error-for=evidence]")
        assert counts(site, case_id) == (1, 0, "visiting")

        # the photo, and a double tap on submit
        page.set_input_files(
            "input[name=evidence]",
            files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": photo()}],
        )
        sent: list[str] = []
        page.on(
            "request",
            lambda r: sent.append(r.url) if r.method == "POST" and "/submit" in r.url else None,
        )
        page.locator("#submit-visit").dblclick()
        page.wait_for_url(f"**/visits/{visit_id}/done")
        assert len(sent) == 2  # both taps went out with the same key
        page.locator("#next-step").wait_for()
        step = page.get_attribute("#next-step", "data-step")
        assert step == "plan_offer"
        page.screenshot(path=site.shots / "visit-done.png", full_page=True)
        page.wait_for_timeout(500)  # let the second tap finish on the server
        assert counts(site, case_id) == (1, 1, "visited")
        assert (
            page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('doorstep:'))") == []
        )
        assert violations == [], "\n".join(violations)
    finally:
        context.close()

    # the supervisor sees the SOS, resolves it, reviews the verdict and closes the case
    manager = browser.new_context(base_url=site.url, locale="zh-CN", viewport=PHONE)
    manager.set_default_timeout(15_000)
    page = manager.new_page()
    try:
        sign_in(page, "manager_sh", "/alerts")
        sos = page.locator("tr[data-kind=sos]")
        assert sos.count() == 1 and "39.9001" in sos.inner_text()
        sos.locator("input[name=note]").fill("已电话确认安全")
        sos.locator("button").click()
        page.wait_for_url("**/alerts")
        assert page.locator("tr[data-kind=sos]").count() == 0
        page.goto(f"/cases/{case_id}")
        page.locator("#verdict-facts").wait_for()
        assert page.get_attribute("#verdict-facts", "data-next-step") == "plan_offer"
        assert "image/jpeg" in page.inner_text("#verdict")
        page.screenshot(path=site.shots / "visit-verdict.png", full_page=True)
        page.fill("#close-form input[name=reason]", "核实结论已复核")  # a close says why
        page.click("#close-case")
        page.wait_for_url(f"**/cases/{case_id}")
        assert page.inner_text("#case-state") == zh("closed")
        assert counts(site, case_id) == (1, 1, "closed")
    finally:
        manager.close()

    # the lender gets it both ways: the feedback export, and signed webhooks
    exported = feedback_export(site)
    assert [r["next_step"] for r in exported if r["case_id"] == case_id] == ["plan_offer"]
    lender.drain(site)
    topics = {(b["topic"], b["data"]["case_id"]) for b in lender.bodies}
    assert {("visit.verdict", case_id), ("case.closed", case_id)} <= topics
    verdict = next(b for b in lender.bodies if b["topic"] == "visit.verdict")
    assert verdict["data"]["next_step"] == "plan_offer"
    assert lender.bad_signatures == 0
