"""Disputes and the customer's holds through the API (SQLite and PostgreSQL): a manager
opens and answers a dispute and the lender's outbox event carries the outcome; a
verifier may not; a complaint hold made without an open case is lifted by a manager with
a reason and selection may then pick the customer; the visit-interval override lets the
planner route the case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.case import Caller
from doorstep.services import cases, visit_plans
from doorstep.services.repayment import portal
from doorstep.services.visit_plans import PlanConfig
from doorstep.store.db import transaction
from doorstep.store.models import Case, CustomerHold, OutboxEvent
from doorstep.store.repositories import plans as plan_repo
from tests.factories.book import TEST_CIPHER
from tests.factories.cases import open_cases
from tests.factories.people import bearer
from tests.factories.plans import spread_over_beijing
from tests.factories.web import make_app
from tests.factories.world import AS_OF, World, build_world

pytestmark = pytest.mark.db


def customer_of(engine: Engine, case_id: int) -> str:
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.customer_id


def test_a_manager_opens_and_resolves_a_dispute_and_the_lender_is_told(
    world: World, client: TestClient
) -> None:
    boss, case_id = bearer(world.engine, "manager"), world.assigned_case
    opened = client.post(
        f"/api/cases/{case_id}/disputes",
        headers=boss,
        json={"kind": "amount_wrong", "note": "the fee was charged twice"},
    )
    assert opened.status_code == 201, opened.text
    hold = opened.json()
    assert hold["type"] == "dispute" and hold["detail"] == "amount_wrong"
    listed = client.get(f"/api/cases/{case_id}/holds", headers=boss).json()
    assert [h["id"] for h in listed] == [hold["id"]] and listed[0]["respond_by"]
    with transaction(world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason == "dispute"
    answered = client.post(
        f"/api/disputes/{hold['id']}/resolve",
        headers=boss,
        json={"outcome": "corrected", "note": "fee refunded by the lender"},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["outcome"] == "corrected"
    assert client.get(f"/api/cases/{case_id}/holds", headers=boss).json() == []
    with transaction(world.engine) as session:
        event = session.scalars(select(OutboxEvent)).one()
        assert event.topic == "dispute.resolved"
        assert event.payload["outcome"] == "corrected" and event.payload["kind"] == "amount_wrong"
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason is None
    again = client.post(
        f"/api/disputes/{hold['id']}/resolve",
        headers=boss,
        json={"outcome": "upheld", "note": "twice"},
    )
    assert again.status_code == 404  # answered once


def test_a_verifier_may_not_open_or_resolve_a_dispute(world: World, client: TestClient) -> None:
    boss, verifier = bearer(world.engine, "manager"), bearer(world.engine, "verifier")
    body = {"kind": "not_my_loan", "note": "never borrowed"}
    refused = client.post(f"/api/cases/{world.assigned_case}/disputes", headers=verifier, json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    hold = client.post(f"/api/cases/{world.assigned_case}/disputes", headers=boss, json=body)
    answer = {"outcome": "upheld", "note": "identity theft confirmed"}
    resolved = client.post(
        f"/api/disputes/{hold.json()['id']}/resolve", headers=verifier, json=answer
    )
    assert resolved.status_code == 403
    with transaction(world.engine) as session:
        assert session.scalars(select(OutboxEvent)).all() == []


def test_a_manager_outside_the_region_finds_no_dispute(world: World, client: TestClient) -> None:
    admin, boss = bearer(world.engine, "admin"), bearer(world.engine, "manager")
    hold = client.post(
        f"/api/cases/{world.shanghai_case}/disputes",
        headers=admin,
        json={"kind": "already_paid", "note": "paid in cash"},
    )
    assert hold.status_code == 201
    answer = {"outcome": "rejected", "note": "no payment found"}
    resolved = client.post(f"/api/disputes/{hold.json()['id']}/resolve", headers=boss, json=answer)
    assert resolved.status_code == 404


def test_a_complaint_hold_without_a_case_is_lifted_by_a_manager_then_selected(
    world: World, client: TestClient
) -> None:
    customer = customer_of(world.engine, world.other_case)
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        for case in session.scalars(select(Case).where(Case.customer_id == customer)):
            cases.apply(
                session,
                SYSTEM,
                case,
                "cancel",
                by=Caller.SELECTION,
                reason="closed by the lender",
                cancel_reason="other",
            )
        portal.complain(session, customer, "the visitor was rude", now=now, cipher=TEST_CIPHER)
    with transaction(world.engine) as session:
        open_cases(session, AS_OF)
        assert not session.scalars(
            select(Case).where(Case.customer_id == customer, Case.state != "cancelled")
        ).all()
    boss, verifier = bearer(world.engine, "manager"), bearer(world.engine, "verifier")
    (hold,) = client.get(f"/api/cases/{world.other_case}/holds", headers=boss).json()
    assert hold["type"] == "complaint"
    path = f"/api/cases/{world.other_case}/holds/{hold['id']}/lift"
    assert client.post(path, headers=verifier, json={"reason": "answered"}).status_code == 403
    assert client.post(path, headers=boss, json={"reason": "ok"}).status_code == 422  # too short
    lifted = client.post(path, headers=boss, json={"reason": "complaint answered by phone"})
    assert lifted.status_code == 200, lifted.text
    with transaction(world.engine) as session:
        row = session.get(CustomerHold, hold["id"])
        assert row is not None and row.lifted_by == "manager" and row.outcome == "lifted"
        assert row.lift_reason == "complaint answered by phone"
        open_cases(session, AS_OF)
        picked = session.scalars(
            select(Case).where(Case.customer_id == customer, Case.state != "cancelled")
        ).all()
        assert len(picked) == 1


def test_a_dispute_is_resolved_not_lifted(world: World, client: TestClient) -> None:
    boss = bearer(world.engine, "manager")
    hold = client.post(
        f"/api/cases/{world.assigned_case}/disputes",
        headers=boss,
        json={"kind": "not_my_loan", "note": "never borrowed"},
    ).json()
    path = f"/api/cases/{world.assigned_case}/holds/{hold['id']}/lift"
    assert client.post(path, headers=boss, json={"reason": "just lift it"}).status_code == 422


def test_the_interval_override_lets_the_planner_route_the_case(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys, customers=12, then=spread_over_beijing)
    pack = Settings().rules_pack
    cfg = PlanConfig(seconds=30, edit_seconds=30, iterations=500, pack=pack, cipher=TEST_CIPHER)
    now = cfg.clock.now()
    day = now.astimezone(cfg.zone).date() + timedelta(days=1)
    with transaction(engine) as session:
        ready = session.scalars(
            select(Case).where(Case.city == "北京市", Case.state == "ready").order_by(Case.id)
        ).first()
        assert ready is not None
        ready.visited_on, case_id = day - timedelta(days=3), ready.id  # within the 7 days
    client = TestClient(make_app(engine, world, tmp_path))
    path = f"/api/cases/{case_id}/visit-interval-override"
    body = {"reason": "the borrower asked for a second visit"}
    assert client.post(path, headers=bearer(engine, "verifier"), json=body).status_code == 403
    done = client.post(path, headers=bearer(engine, "manager"), json=body)
    assert done.status_code == 200, done.text
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, day, "北京市", cfg)
        stop = next(s for s in plan_repo.stops(session, plan.id) if s.case_id == case_id)
        assert stop.drop_reason != "visited within the interval"


def test_no_override_for_a_case_outside_the_interval(world: World, client: TestClient) -> None:
    path = f"/api/cases/{world.other_case}/visit-interval-override"
    body = {"reason": "the borrower asked for a second visit"}
    answer = client.post(path, headers=bearer(world.engine, "manager"), json=body)
    assert answer.status_code == 422
