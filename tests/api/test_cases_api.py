"""The case API: filters and paging, masked details, actions with optimistic locking,
RFC 9457 errors, CSRF on cookie sessions, login throttling and disabled users."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from doorstep.domain.access import SYSTEM
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.ports import FixedClock
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import Case
from tests.factories.cases import set_state
from tests.factories.people import PASSWORD, bearer
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import World

pytestmark = pytest.mark.db

STATES = ("new", "confirming", "ready")


def vary_cases(engine: Engine, world: World) -> list[dict[str, Any]]:
    """Give the world's (identical) cases distinct figures; the rows as the filters see them."""
    rows = []
    with transaction(engine) as session:
        for n, case_id in enumerate(world.case_ids):
            case = session.get(Case, case_id)
            assert case is not None
            dpd = 35 + 20 * n  # 35, 55, ..., 175: M2..M6
            case.state, case.max_dpd = STATES[n % 3], dpd
            case.bucket = DEFAULT_BUCKETS.bucket_of(dpd)
            case.overdue_amount = case.priority = 100_000 * (n + 1)  # 1000.00 yuan, 2000.00, ...
            case.hold_reason = "dispute" if n % 3 == 0 else None
            case.skip_trace = n % 2 == 1
            rows.append(
                {
                    "id": case.id,
                    "state": case.state,
                    "bucket": case.bucket,
                    "city": case.city,
                    "dpd": dpd,
                    "fen": case.overdue_amount,
                    "hold": case.hold_reason is not None,
                    "skip": case.skip_trace,
                }
            )
    return sorted(rows, key=lambda r: -r["fen"])  # the API's order: priority first


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem details body with the given status (and machine code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "detail"):
        assert body.get(member) not in (None, ""), f"problem without {member}: {body}"
    assert body["status"] == status
    if code:
        assert body["code"] == code, body
    return body


def test_list_filters_and_paging(world: World, client: TestClient, engine: Engine) -> None:
    rows = vary_cases(engine, world)
    admin = bearer(engine, "admin")
    queries: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda r: True),
        ({"state": "ready"}, lambda r: r["state"] == "ready"),
        ({"state": ["new", "ready"]}, lambda r: r["state"] in ("new", "ready")),
        ({"bucket": "M3"}, lambda r: r["bucket"] == "M3"),
        ({"bucket": ["M2", "M6"]}, lambda r: r["bucket"] in ("M2", "M6")),
        ({"city": "上海市"}, lambda r: r["city"] == "上海市"),
        ({"min_dpd": 60, "max_dpd": 120}, lambda r: 60 <= r["dpd"] <= 120),
        ({"min_amount": "2000.00", "max_amount": "5000"}, lambda r: 200_000 <= r["fen"] <= 500_000),
        ({"min_amount": "2000.01"}, lambda r: r["fen"] >= 200_001),
        ({"on_hold": "true"}, lambda r: r["hold"]),
        ({"on_hold": "false"}, lambda r: not r["hold"]),
        ({"skip_trace": "true"}, lambda r: r["skip"]),
        (
            {"skip_trace": "false", "state": "ready"},
            lambda r: not r["skip"] and r["state"] == "ready",
        ),
    ]
    for params, keep in queries:
        response = client.get("/api/cases", params=params, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        want = [r["id"] for r in rows if keep(r)]
        assert [item["id"] for item in page["items"]] == want, params
        assert page["total"] == len(want), params

    seen, page_no = [], 1
    while True:
        page = client.get("/api/cases", params={"per_page": 3, "page": page_no}, headers=admin)
        body = page.json()
        assert body["total"] == len(rows) and body["per_page"] == 3 and body["page"] == page_no
        if not body["items"]:
            break
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        page_no += 1
    assert seen == [r["id"] for r in rows]
    assert page_no == 4  # pages 1-3 hold 3 + 3 + 2, page 4 is empty

    item = client.get("/api/cases", params={"per_page": 1}, headers=admin).json()["items"][0]
    assert item["overdue_amount"] == "8000.00"  # yuan strings at the edge, never floats
    assert_problem(client.get("/api/cases", params={"min_amount": "12.345"}, headers=admin), 422)
    assert_problem(client.get("/api/cases", params={"per_page": 0}, headers=admin), 422)


ID_MASK = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
PHONE_MASK = re.compile(r"^1\d{2}\*{4}\d{4}$")


def test_case_detail_shows_masked_personal_data_only(
    world: World, client: TestClient, engine: Engine
) -> None:
    for role in ("admin", "manager", "verifier", "analyst", "auditor"):
        response = client.get(f"/api/cases/{world.assigned_case}", headers=bearer(engine, role))
        assert response.status_code == 200, response.text
        body = response.json()
        assert ID_MASK.match(body["id_number_masked"]), body["id_number_masked"]
        points = body["contact_points"]
        assert {p["channel"] for p in points} == {"phone", "address"}
        for point in points:
            if point["channel"] == "phone":
                assert PHONE_MASK.match(point["masked"]), point
            else:
                assert point["masked"].endswith("****"), point
        text = response.content.decode("utf-8")
        for secret in [*world.id_numbers, *world.phones, *world.addresses]:
            assert secret not in text, f"{role} sees {secret} in clear"


def act(client: TestClient, case_id: int, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/cases/{case_id}/actions", json=body, headers=headers)


def test_actions_with_reasons(world: World, client: TestClient, engine: Engine) -> None:
    manager, case_id = bearer(engine, "manager"), world.other_case
    version = set_state(engine, case_id, "confirming")

    held = act(
        client,
        case_id,
        manager,
        action="hold",
        hold_reason="complaint",
        reason="borrower complained about calls",
        version=version,
    )
    assert held.status_code == 200, held.text
    assert held.json()["hold_reason"] == "complaint"
    assert held.json()["version"] == version + 1
    blocked = act(client, case_id, manager, action="mark_ready")
    assert "暂停" in assert_problem(blocked, 409, "illegal_transition")["detail"]  # zh_CN default
    detail = client.get(f"/api/cases/{case_id}", headers=manager).json()
    assert "mark_ready" not in detail["actions"] and "release" in detail["actions"]

    assert_problem(act(client, case_id, manager, action="release"), 409)  # needs a reason
    released = act(client, case_id, manager, action="release", reason="complaint resolved")
    assert released.status_code == 200 and released.json()["hold_reason"] is None

    ready = act(client, case_id, manager, action="mark_ready", reason="address confirmed")
    assert ready.status_code == 200 and ready.json()["state"] == "ready"

    assert_problem(act(client, case_id, manager, action="cancel"), 409)  # needs a reason
    cancelled = act(client, case_id, manager, action="cancel", reason="borrower paid in full")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert_problem(act(client, case_id, manager, action="hold", reason="too late"), 409)

    with transaction(engine) as session:
        trail = [(e.action, e.actor, e.reason) for e in audit.timeline(session, "case", case_id)]
    assert trail[-4:] == [
        ("case.hold", "manager", "borrower complained about calls"),
        ("case.release", "manager", "complaint resolved"),
        ("case.mark_ready", "manager", "address confirmed"),
        ("case.cancel", "manager", "borrower paid in full"),
    ]


def test_stale_version_and_illegal_transition_are_409(
    world: World, client: TestClient, engine: Engine
) -> None:
    admin, case_id = bearer(engine, "admin"), world.assigned_case
    seen = set_state(engine, case_id, "confirming")
    assert act(client, case_id, admin, action="mark_ready", version=seen).status_code == 200
    stale = act(client, case_id, admin, action="hold", reason="dispute raised", version=seen)
    body = assert_problem(stale, 409, "conflict")
    assert body["instance"] == f"/api/cases/{case_id}/actions"
    illegal = act(client, case_id, admin, action="close", reason="done")
    assert_problem(illegal, 409, "illegal_transition")
    assert_problem(act(client, case_id, admin, action="fly_to_the_moon"), 409)
    state = client.get(f"/api/cases/{case_id}", headers=admin).json()["case"]
    assert (state["state"], state["version"]) == ("ready", seen + 1)  # nothing else happened


def test_a_person_cannot_start_or_record_a_visit(
    world: World, client: TestClient, engine: Engine
) -> None:
    """Only the visit service moves a case to visiting (a check-in) and visited (a
    submitted interview): the case API refuses both, even to an admin, and offers neither;
    so no case is closed without a check-in."""
    admin, case_id = bearer(engine, "admin"), world.assigned_case
    for state, action in (("scheduled", "start_visit"), ("visiting", "record_visit")):
        seen = set_state(engine, case_id, state)
        detail = client.get(f"/api/cases/{case_id}", headers=admin).json()
        assert action not in detail["actions"]
        refused = act(client, case_id, admin, action=action, reason="at the door", version=seen)
        assert "签到" in assert_problem(refused, 403, "forbidden")["detail"]  # zh_CN default
        after = client.get(f"/api/cases/{case_id}", headers=admin).json()["case"]
        assert (after["state"], after["version"]) == (state, seen)  # nothing happened
    with transaction(engine) as session:
        trail = [e.action for e in audit.timeline(session, "case", case_id)]
    assert "case.start_visit" not in trail and "case.record_visit" not in trail


def test_every_4xx_is_problem_details(world: World, client: TestClient, engine: Engine) -> None:
    admin, analyst = bearer(engine, "admin"), bearer(engine, "analyst")
    verifier, case = bearer(engine, "verifier"), world.assigned_case
    before = client.get(f"/api/cases/{case}", headers=admin).json()["case"]
    cases = [
        (client.get("/api/cases"), 401),
        (client.get("/api/cases", headers={"Authorization": "Bearer dst_nonsense"}), 401),
        (act(client, case, analyst, action="hold", reason="not mine to do"), 403),
        (client.get("/api/audit/verify", headers=verifier), 403),
        (client.get(f"/api/cases/{world.other_case}", headers=verifier), 404),
        (client.get("/api/cases/999999", headers=admin), 404),
        (client.get("/api/no-such-thing", headers=admin), 404),
        (client.delete(f"/api/cases/{case}", headers=admin), 405),
        (act(client, case, admin, action="close", reason="x"), 409),
        (act(client, case, admin, action="hold", reason="x", version=0), 409),
        (
            client.post(f"/api/cases/{case}/actions", json={"reason": "no action"}, headers=admin),
            422,
        ),
        (
            client.post(
                f"/api/cases/{case}/reveal",
                json={"field": "id_number", "purpose": "visit"},  # not on the list
                headers=admin,
            ),
            422,
        ),
        (client.get("/api/cases", params={"page": "first"}, headers=admin), 422),
        (act(client, case, admin, action="hold", hold_reason="bored", reason="x"), 422),
        (act(client, case, admin, action="cancel", reason="   "), 409),  # blank is no reason
        # Numbers past what the columns hold: refused, never a driver error (500).
        (client.get(f"/api/cases/{2**31}", headers=admin), 422),  # no INTEGER key holds it
        (
            client.post(
                f"/api/cases/{case}/contact-points/{2**40}/attempts",
                json={"channel": "call", "result": "reached"},
                headers=admin,
            ),
            422,
        ),
        (client.get("/api/cases", params={"page": 10**18}, headers=admin), 422),
        (client.get("/api/cases", params={"min_dpd": 2**40}, headers=admin), 422),
        (client.get("/api/cases", params={"max_amount": "9" * 20}, headers=admin), 422),
    ]
    for response, status in cases:
        assert_problem(response, status)
    assert client.get(f"/api/cases/{case}", headers=admin).json()["case"] == before  # untouched


def test_cookie_post_without_csrf_token_is_403(world: World, client: TestClient) -> None:
    token = sign_in(client, "manager")
    path = f"/api/cases/{world.other_case}/actions"
    body = {"action": "hold", "hold_reason": "complaint", "reason": "complaint by phone"}
    assert_problem(client.post(path, json=body), 403, "csrf_failed")
    assert_problem(client.post(path, json=body, headers={"X-CSRF-Token": "forged"}), 403)
    response = client.post(path, json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    assert response.json()["hold_reason"] == "complaint"


def login(client: TestClient, username: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response.status_code


def test_five_bad_passwords_lock_the_account_for_a_minute_then_longer(
    world: World, app: FastAPI, client: TestClient
) -> None:
    start = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    app.state.doorstep.clock = FixedClock(start)
    assert [login(client, "analyst", "wrong password!") for _ in range(5)] == [401] * 5
    assert login(client, "analyst", PASSWORD) == 429  # right password, still locked
    assert login(client, "auditor", PASSWORD) == 303  # another account is not affected
    app.state.doorstep.clock = FixedClock(start + timedelta(seconds=59))
    assert login(client, "analyst", PASSWORD) == 429
    app.state.doorstep.clock = FixedClock(start + timedelta(minutes=1))  # the lock lapsed
    assert login(client, "analyst", "wrong password!") == 401  # the 6th: two minutes
    app.state.doorstep.clock = FixedClock(start + timedelta(minutes=2, seconds=59))
    assert login(client, "analyst", PASSWORD) == 429
    app.state.doorstep.clock = FixedClock(start + timedelta(minutes=3))
    assert login(client, "analyst", PASSWORD) == 303


def test_disabling_a_user_ends_their_session(
    world: World, client: TestClient, engine: Engine
) -> None:
    sign_in(client, "manager")
    assert client.get("/api/me").json()["username"] == "manager"
    token = bearer(engine, "manager")
    with transaction(engine) as session:
        users.set_active(session, SYSTEM, "manager", False, now=datetime.now(UTC))
    assert_problem(client.get("/api/me"), 401, "session_ended")
    assert_problem(client.get("/api/me", headers=token), 401)
    page = client.get("/cases", follow_redirects=False)
    assert page.status_code in (303, 401)
    assert login(client, "manager", PASSWORD) == 401
