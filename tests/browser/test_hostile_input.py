"""Hostile input: script-shaped text stays text on every page that shows it (chromium);
CSRF without a token fails on every state-changing page route; SQL metacharacters in
list filters are plain values; uploads that lie about their type are refused; evidence
names cannot leave the store. The XSS check in test_manager_pages.py (a hold reason typed
into the case page) is not repeated here.

Oversized requests: tests/integration/test_request_limits.py. Login throttling:
tests/api/test_cases_api.py; one-time-code throttling: tests/integration/test_offers.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import BadEvidenceName, InvalidAnswers
from doorstep.integrations.evidence import LocalEvidenceStore, sha256_of
from doorstep.services.conduct import audit
from doorstep.services.repayment import portal
from doorstep.services.visits import Upload, check_uploads
from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, Case, ContactPoint, Customer, Team
from tests.browser.conftest import Site
from tests.browser.test_manager_pages import sign_in as sign_in_page
from tests.factories.book import TEST_CIPHER
from tests.factories.people import bearer
from tests.factories.web import make_app, sign_in
from tests.factories.world import ANYTIME_RULES, World

PAYLOAD = "\"'><script>alert('x1')</script><img src=x onerror=alert('x2')><svg onload=alert(3)>"
"""Breaks out of attributes and text alike; any of its scripts firing opens a dialog."""

# --- XSS in the browser ---------------------------------------------------------------


def seed_payloads(site: Site) -> int:
    """Put PAYLOAD into the free text that users, borrowers and the lender's files fill,
    on the Shanghai case the other tests only keep out of sight; its id."""
    world = site.world
    with transaction(world.engine) as session:
        # the other tests only check that this case stays out of the Beijing manager's
        # sight (the visit test takes the other Shanghai case, the rest are Beijing's)
        case_id = world.shanghai_case
        case = session.get(Case, case_id)
        assert case is not None
        customer = session.get(Customer, case.customer_id)
        assert customer is not None
        customer.name, customer.employer = PAYLOAD[:100], PAYLOAD  # as an ingested file sets them
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == customer.customer_id)
        ):
            if point.channel == "address":
                point.value_masked = PAYLOAD  # the address as the lender's file wrote it
        session.add(Team(name=PAYLOAD[:64], city=case.city))
        for action in ("case.hold", "case.release", "case.cancel", "contact.reveal"):
            audit.record(session, SYSTEM, action, "case", case_id, {"by": PAYLOAD}, reason=PAYLOAD)
        now = datetime.now(UTC)
        today = now.date()
        portal.report_hardship(
            session, customer.customer_id, "medical", PAYLOAD, today, 7, now=now, cipher=TEST_CIPHER
        )
        portal.complain(
            session, customer.customer_id, PAYLOAD, now=now, cipher=TEST_CIPHER
        )  # the borrower's complaint
    return case_id


PAGES = [
    "/cases",
    "/cases/{case}",
    "/cases?city={q}&district={q}",
    "/dashboard",
    "/plans",
    "/complaints",
    "/alerts",
    "/rules/report",
    "/models",
    "/day",
    "/batch",
    "/feedback/dead-letters",
]


@pytest.mark.browser
def test_script_shaped_text_stays_text_on_every_page(page: Any, site: Site) -> None:
    case_id = seed_payloads(site)
    sign_in_page(page, "admin")
    shown_on = []
    for template in PAGES:
        url = template.format(case=case_id, q=PAYLOAD.replace("&", "%26").replace("#", "%23"))
        response = page.goto(url)
        assert response is not None and response.status < 500, url
        page.wait_for_load_state("load")
        injected = page.locator("img[src='x'], svg[onload], script:not([src])")
        for n in range(injected.count()):
            assert "alert(" not in (injected.nth(n).inner_html() or ""), f"{url}: injected"
        assert page.locator("img[src='x']").count() == 0, url
        assert page.locator("svg[onload]").count() == 0, url
        if "<script>alert('x1')</script>" in page.inner_text("body"):
            shown_on.append(template)
    assert site.dialogs == [], f"a script ran: {site.dialogs}"
    assert "/cases/{case}" in shown_on, shown_on  # the payload is shown, as text
    assert "/complaints" in shown_on, shown_on


# --- CSRF on every state-changing page route --------------------------------------------


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path) -> FastAPI:
    """The shared app, at any time of day."""
    return make_app(engine, world, tmp_path, rules_file=ANYTIME_RULES)


def unsafe_page_routes(app: FastAPI) -> list[str]:
    flatten = getattr(routing, "iter_route_contexts", lambda routes: routes)
    return sorted(
        f"{method} {route.path}"
        for route in flatten(app.routes)
        if not (route.path or "").startswith("/api")
        for method in getattr(route, "methods", None) or ()
        if method in ("POST", "PUT", "PATCH", "DELETE")
    )


@pytest.mark.db
def test_every_state_changing_page_route_refuses_without_the_token(
    client: TestClient, world: World, engine: Engine
) -> None:
    routes = unsafe_page_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) >= 30 and "POST /portal/complaint" in routes  # enumerated, not listed
    token = sign_in(client, "admin")
    before = count_audit(engine)
    for route in routes:
        method, path = route.split(" ", 1)
        url = re.sub(r"\{\w+\}", str(world.other_case), path)
        for sent in ({}, {"csrf_token": "forged-" + token[:8]}):
            response = client.request(
                method,
                url,
                data={"action": "hold", "reason": "x", "note": "x", **sent},
                headers={"accept": "application/json"},
                follow_redirects=False,
            )
            assert response.status_code == 403, f"{route} {sent}: {response.status_code}"
            assert response.json()["code"] == "csrf_failed", route
    assert count_audit(engine) == before  # nothing was written
    # the same request with the session's token gets past the check (the test can fail)
    good = client.post(
        f"/cases/{world.other_case}/actions",
        data={"action": "no_such_action", "csrf_token": token},
        headers={"accept": "application/json"},
    )
    assert good.status_code != 403


def count_audit(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


# --- SQL metacharacters in list filters --------------------------------------------------

METACHARACTERS = [
    "' OR '1'='1",
    "'; DROP TABLE cases; --",
    '" OR 1=1 --',
    "%",
    "_",
    "\\",
    "北京市' UNION SELECT name FROM users --",
]


@pytest.mark.db
def test_sql_metacharacters_in_filters_are_plain_values(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = bearer(engine, "admin")
    plain = client.get("/api/cases", params={"city": "无此城市"}, headers=headers)
    assert plain.status_code == 200 and plain.json()["total"] == 0
    everything = client.get("/api/cases", headers=headers).json()["total"]
    assert everything > 0
    for value in METACHARACTERS:
        for name in ("city", "district", "state", "bucket"):
            response = client.get("/api/cases", params={name: value}, headers=headers)
            assert response.status_code == 200, (name, value, response.text)
            assert response.json()["total"] == 0, (name, value)  # matched nothing, like 无此城市
        feed = client.get("/api/feedback", params={"cursor": value}, headers=headers)
        assert feed.status_code < 500, (value, feed.text)
    sign_in(client, "admin")
    for value in METACHARACTERS:
        page = client.get("/cases", params={"city": value, "district": value})
        assert page.status_code == 200, value
    assert client.get("/api/cases", headers=headers).json()["total"] == everything  # no DROP


# --- uploads that lie about their type; names that try to leave the store ----------------

LIES = {
    "pdf.jpg": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
    "page.jpg": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "program.jpg": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 64,
    "script.png": b"#!/bin/sh\nrm -rf /\n",
    "svg.jpg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
}


def test_uploads_that_lie_about_their_type_are_refused() -> None:
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 64
    assert [c.media for c in check_uploads([Upload("photo.jpg", photo)], 1024)] == ["image/jpeg"]
    for name, data in LIES.items():
        with pytest.raises(InvalidAnswers) as refused:
            check_uploads([Upload(name, data)], 1024 * 1024)
        assert name in str(refused.value.problems[0].message), name


def test_evidence_names_cannot_leave_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = LocalEvidenceStore(root)
    digest = store.put(b"photo bytes")
    assert digest == sha256_of(b"photo bytes") and store.get(digest) == b"photo bytes"
    for name in (
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "/etc/passwd",
        "a" * 62 + "/..",
        digest[:63] + "\0",
        digest.upper(),
        "../" + digest,
    ):
        with pytest.raises(BadEvidenceName):
            store.get(name)
        with pytest.raises(BadEvidenceName):
            store.path_for(name)
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.parts[0] == "store" for p in written), written  # nothing outside the store
