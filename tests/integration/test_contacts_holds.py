"""Contacts, holds, disputes and asking the rules first, in the database (SQLite and
PostgreSQL): trust moves only on evidence, one value from two sources has one verdict,
a borrower's hold without an open case is kept and read by selection, planning and the
rules, disputes and complaints have a deadline, a blocked attempt answers 409, and the
rules can be asked before acting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.domain.access import SYSTEM
from doorstep.domain.case import Caller
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.rules import load
from doorstep.services import cases
from doorstep.services.cases import contacts, disputes, precheck
from doorstep.services.conduct import rules as conduct
from doorstep.services.repayment import portal
from doorstep.store.db import transaction
from doorstep.store.models import (
    Alert,
    Base,
    Case,
    ContactAttempt,
    ContactPoint,
    CustomerHold,
    OutboxEvent,
    RuleDecision,
)
from tests.factories.book import TEST_CIPHER
from tests.factories.cases import open_cases
from tests.factories.people import actor, bearer
from tests.factories.world import AS_OF, World

pytestmark = pytest.mark.db
SH = ZoneInfo("Asia/Shanghai")
CN = load("cn")
CALL = AttemptChannel.CALL


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def phone_of(world: World, case_id: int) -> int:
    with transaction(world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        point = contacts.best(contacts.ranked(session, case.customer_id, at(9, 9)), "phone")
        assert point is not None
        return point.point.id


def aged(world: World, point_id: int, days: int) -> None:
    """Make the point an application number last seen `days` before 2026-03-09."""
    with transaction(world.engine) as session:
        point = session.get(ContactPoint, point_id)
        assert point is not None
        point.source, point.status, point.confidence = "application", "unverified", 0.6
        point.observed_at = at(9, 9) - timedelta(days=days)


def trust_of(world: World, customer_id: str, point_id: int, now: datetime) -> float:
    with transaction(world.engine) as session:
        found = [r for r in contacts.ranked(session, customer_id, now) if r.has(point_id)]
        assert len(found) == 1
        return found[0].trust


def customer_of(world: World, case_id: int) -> str:
    with transaction(world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.customer_id


def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert not [d for d in diff if "customer_holds" in repr(d)]


# --- finding 1: trust --------------------------------------------------------------------


def test_blocked_and_unanswered_calls_never_raise_trust(world: World) -> None:
    """An application number last seen 400 days ago is trusted 0.37; a call the quiet
    hours blocked left it at 0.60 and an unanswered one at 0.51 (the decay clock restarted
    from them). Now: unchanged after the block, lower after the miss."""
    case_id, boss = world.assigned_case, actor(world.engine, "manager")
    point_id, customer = phone_of(world, case_id), customer_of(world, case_id)
    aged(world, point_id, 400)
    later = at(10, 12)
    before = trust_of(world, customer, point_id, later)
    assert 0.3 < before < 0.45
    with transaction(world.engine) as session:
        blocked = contacts.attempt(
            session, boss, case_id, point_id, CALL, AttemptResult.REACHED, at=at(9, 23), pack=CN
        )
        assert blocked.decision.blocked
    assert trust_of(world, customer, point_id, later) == pytest.approx(before)
    for result in (AttemptResult.NO_ANSWER, AttemptResult.BUSY):
        with transaction(world.engine) as session:
            contacts.attempt(
                session, boss, case_id, point_id, CALL, result, at=at(10, 10), pack=CN,
                override_reason="checking the number", cipher=TEST_CIPHER,
            )  # fmt: skip
        after = trust_of(world, customer, point_id, later)
        assert after <= before
        before = after
    with transaction(world.engine) as session:  # a conversation is evidence: trust rises
        contacts.attempt(
            session, boss, case_id, point_id, CALL, AttemptResult.REACHED, at=at(10, 11),
            pack=CN, override_reason="checking the number", cipher=TEST_CIPHER,
        )  # fmt: skip
    assert trust_of(world, customer, point_id, later) >= 0.9


def test_one_value_from_two_sources_has_one_verdict(world: World) -> None:
    """The same number from a call and from the application stayed two rows with two
    verdicts; now it is one contact with both sources, and a wrong number moves both."""
    case_id, boss = world.assigned_case, actor(world.engine, "manager")
    point_id, customer = phone_of(world, case_id), customer_of(world, case_id)
    with transaction(world.engine) as session:
        point = session.get(ContactPoint, point_id)
        assert point is not None
        twin = ContactPoint(
            customer_id=point.customer_id, channel=point.channel, kind=point.kind,
            value=point.value, value_hash=point.value_hash, value_masked=point.value_masked,
            source="third_party" if point.source != "third_party" else "application",
            observed_at=point.observed_at, status="unverified", confidence=0.45,
        )  # fmt: skip
        session.add(twin)
        session.flush()
        twin_id = twin.id
        ranked = contacts.ranked(session, customer, at(10, 12))
        same = [r for r in ranked if r.has(point_id)]
        assert len(same) == 1 and same[0].has(twin_id) and len(same[0].sources) == 2
        contacts.attempt(
            session, boss, case_id, point_id, CALL, AttemptResult.WRONG_NUMBER,
            at=at(10, 10), pack=CN, override_reason="number belongs to someone else",
            cipher=TEST_CIPHER,
        )  # fmt: skip
    with transaction(world.engine) as session:
        rows = [session.get(ContactPoint, i) for i in (point_id, twin_id)]
        assert {(r.status, r.confidence) for r in rows if r} == {("invalid", 0.05)}
    assert trust_of(world, customer, twin_id, at(10, 12)) == 0.0


# --- finding 6: rules asked, and told ------------------------------------------------------


def test_a_blocked_attempt_answers_409_naming_the_rule(world: World, client: TestClient) -> None:
    case_id = world.assigned_case
    point_id = phone_of(world, case_id)
    with transaction(world.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        cases.apply(session, SYSTEM, case, "hold", by=Caller.USER, hold_reason="complaint",
                    reason="borrower complained", now=datetime.now(UTC))  # fmt: skip
    response = client.post(
        f"/api/cases/{case_id}/contact-points/{point_id}/attempts",
        json={"channel": "call", "result": "reached", "note": "called"},
        headers=bearer(world.engine, "manager"),
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "contact_blocked" and "CN-HOLD" in body["detail"]
    assert "CN-HOLD" in [r["id"] for r in body["rules"]]  # (CN-HOURS too at night)
    assert body["rules"][0]["message_zh"] and body["rules"][0]["message_en"]
    with transaction(world.engine) as session:  # kept on record as blocked
        row = session.scalars(select(ContactAttempt)).one()
        assert (row.performed, row.decision) == (False, "blocked")


def test_asking_the_rules_first_writes_nothing(world: World, client: TestClient) -> None:
    case_id = world.assigned_case
    point_id = phone_of(world, case_id)
    headers = bearer(world.engine, "manager")
    ask = {"case_id": case_id, "action": "call", "point_id": point_id}
    late = client.post("/api/conduct/check", json={**ask, "at": at(9, 23).isoformat()},
                       headers=headers)  # fmt: skip
    assert late.status_code == 200, late.text
    assert late.json()["outcome"] == "blocked"
    fired = late.json()["rules"]
    assert [r["id"] for r in fired] == ["CN-HOURS"] and fired[0]["message_zh"]
    noon = client.post("/api/conduct/check", json={**ask, "at": at(9, 12).isoformat()},
                       headers=headers)  # fmt: skip
    assert noon.json()["outcome"] == "allowed" and noon.json()["rules"] == []
    analyst = client.post("/api/conduct/check", json=ask, headers=bearer(world.engine, "analyst"))
    assert analyst.status_code == 403
    with transaction(world.engine) as session:
        assert session.scalars(select(ContactAttempt)).all() == []
        assert session.scalars(select(RuleDecision)).all() == []


def test_precheck_answers_for_a_visit_and_a_reveal(world: World) -> None:
    boss = actor(world.engine, "manager")
    with transaction(world.engine) as session:
        visit = precheck.ask(session, boss, world.assigned_case, precheck.Proposed.VISIT,
                             at=at(9, 23), pack=CN)  # fmt: skip
        assert visit.outcome == "blocked" and "CN-HOURS" in visit.decision.rule_ids
        day = precheck.ask(session, boss, world.assigned_case, precheck.Proposed.VISIT,
                           at=at(9, 10), pack=CN)  # fmt: skip
        assert day.outcome == "allowed"
        reveal = precheck.ask(session, boss, world.assigned_case, precheck.Proposed.REVEAL,
                              at=at(9, 10), pack=CN, purpose="visit_preparation")  # fmt: skip
        assert reveal.outcome in ("allowed", "warned")


# --- finding 8: holds belong to the customer -------------------------------------------------


def _cancel_all(world: World, customer_id: str) -> None:
    with transaction(world.engine) as session:
        for case in session.scalars(select(Case).where(Case.customer_id == customer_id)):
            if case.state not in ("closed", "cancelled"):
                cases.apply(session, SYSTEM, case, "cancel", by=Caller.SELECTION,
                            reason="holdout", cancel_reason="holdout")  # fmt: skip


@pytest.mark.parametrize("report", ["complaint", "hardship"])
def test_a_report_without_an_open_case_keeps_its_hold(world: World, report: str) -> None:
    """The customer has no open case (held out) and complains, or reports hardship: the
    hold is kept, selection does not pick them, a case opened anyway is held by the rules
    and left out of planning."""
    customer = customer_of(world, world.other_case)
    _cancel_all(world, customer)
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        if report == "complaint":
            portal.complain(session, customer, "the visitor was rude", now=now, cipher=TEST_CIPHER)
        else:
            portal.report_hardship(session, customer, "medical", "in hospital",
                                   now.date(), 30, now=now, cipher=TEST_CIPHER)  # fmt: skip
        held = session.scalars(select(CustomerHold)).one()
        assert held.customer_id == customer and held.lifted_at is None
    with transaction(world.engine) as session:
        open_cases(session, AS_OF)
        opened = session.scalars(
            select(Case).where(Case.customer_id == customer, Case.state != "cancelled")
        ).all()
        assert opened == []  # not selected: on hold
        case = Case(customer_id=customer, state="ready", opened_on=AS_OF, as_of=AS_OF,
                    max_dpd=40, bucket="M2", overdue_amount=1, priority=1)  # fmt: skip
        session.add(case)
        session.flush()
        kind = "complaint" if report == "complaint" else "hardship_reported"
        assert conduct.hold_types(session, case.id, now) == (kind,)
        assert conduct.held_case_ids(session, [case.id], now) == {case.id}
        decision = conduct.check_plan_visit(session, case.id, now, now, 2, pack=CN, now=now)
        assert decision.blocked and "CN-HOLD" in decision.rule_ids


def test_hardship_without_a_case_ends_with_its_period(world: World) -> None:
    customer = customer_of(world, world.other_case)
    _cancel_all(world, customer)
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        portal.report_hardship(session, customer, "medical", "in hospital", now.date(), 10,
                               now=now, cipher=TEST_CIPHER)  # fmt: skip
    with transaction(world.engine) as session:
        cases.expire_holds(session, SYSTEM, now + timedelta(days=11))
        held = session.scalars(select(CustomerHold)).one()
        assert held.lifted_at is not None and held.lifted_by == conduct.END_RULE


def test_no_visits_at_work_is_kept_without_a_case(world: World) -> None:
    customer = customer_of(world, world.other_case)
    _cancel_all(world, customer)
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        portal.no_visits_at_work(session, customer, now=now)
        assert conduct.no_work_visits(session, [customer], now) == {customer}
        assert conduct.hold_types(session, world.other_case, now) == ()  # visits elsewhere


# --- disputes and complaints: deadline, escalation, the lender told ------------------------------


def test_a_dispute_stops_contact_until_resolved_and_the_lender_is_told(world: World) -> None:
    boss = actor(world.engine, "manager")
    case_id = world.assigned_case
    customer, point_id = customer_of(world, case_id), phone_of(world, case_id)
    now = at(9, 10)
    with transaction(world.engine) as session:
        hold = disputes.open_dispute(session, boss, customer, disputes.DisputeKind.ALREADY_PAID,
                                     "paid at the branch on 1 March", now)  # fmt: skip
        hold_id = hold.id
        assert hold.respond_by == now + timedelta(days=30)
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason == "dispute"
        blocked = contacts.attempt(session, boss, case_id, point_id, CALL,
                                   AttemptResult.REACHED, at=at(9, 11), pack=CN)  # fmt: skip
        assert blocked.decision.blocked and "CN-HOLD" in blocked.decision.rule_ids
    with transaction(world.engine) as session:
        disputes.resolve_dispute(session, boss, hold_id, disputes.DisputeOutcome.UPHELD,
                                 "payment found in the lender's ledger", at(12, 10))  # fmt: skip
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason is None
        event = session.scalars(select(OutboxEvent)).one()
        assert event.topic == "dispute.resolved"
        assert event.payload["outcome"] == "upheld" and event.payload["kind"] == "already_paid"
        allowed = contacts.attempt(session, boss, case_id, point_id, CALL,
                                   AttemptResult.REACHED, at=at(12, 11), pack=CN)  # fmt: skip
        assert not allowed.decision.blocked


def test_a_complaint_not_answered_in_time_raises_one_alert(world: World) -> None:
    customer = customer_of(world, world.other_case)
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        portal.complain(session, customer, "called at night", now=now, cipher=TEST_CIPHER)
    with transaction(world.engine) as session:
        cases.expire_holds(session, SYSTEM, now + timedelta(days=14))
        assert session.scalars(select(Alert)).all() == []
        cases.expire_holds(session, SYSTEM, now + timedelta(days=16))
        cases.expire_holds(session, SYSTEM, now + timedelta(days=17))
        alert = session.scalars(select(Alert)).one()
        assert alert.kind == "response_overdue" and alert.detail
        assert alert.detail["customer_id"] == customer and alert.detail["type"] == "complaint"


def test_the_migration_brings_duplicates_to_one_verdict(world: World) -> None:
    """Rows of one value written before attempts moved every row of it: the migration
    gives them the value's latest verdict; its downgrade drops customer_holds."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from doorstep.store import migrate

    case_id = world.assigned_case
    point_id = phone_of(world, case_id)
    with transaction(world.engine) as session:
        point = session.get(ContactPoint, point_id)
        assert point is not None
        twin = ContactPoint(
            customer_id=point.customer_id, channel=point.channel, kind=point.kind,
            value=point.value, value_hash=point.value_hash, value_masked=point.value_masked,
            source="third_party" if point.source != "third_party" else "application",
            observed_at=point.observed_at, status="unverified", confidence=0.45,
        )  # fmt: skip
        session.add(twin)
        point.status, point.confidence = "invalid", 0.05  # as the attempt left it, alone
        session.add(
            ContactAttempt(
                contact_point_id=point_id, case_id=case_id, channel="call",
                result="wrong_number", attempted_at=at(9, 10), performed=True,
            )
        )  # fmt: skip
        session.flush()
        twin_id = twin.id
    config = migrate.alembic_config(world.engine)
    with world.engine.begin() as connection:
        config.attributes["connection"] = connection
        parent = ScriptDirectory.from_config(config).get_revision("0026_contacts_holds")
        command.downgrade(config, parent.down_revision)  # to just before this revision
    assert "customer_holds" not in inspect(world.engine).get_table_names()
    migrate.upgrade(world.engine)
    assert "customer_holds" in inspect(world.engine).get_table_names()
    with transaction(world.engine) as session:
        twin_after = session.get(ContactPoint, twin_id)
        assert twin_after is not None
        assert (twin_after.status, twin_after.confidence) == ("invalid", 0.05)


def test_doorstep_rules_check_answers_in_both_languages(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from doorstep.cli import common as cli_common
    from doorstep.cli.main import app
    from tests.factories.databases import url_of

    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(world.engine))
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DOORSTEP_RULES_FILE", raising=False)
    monkeypatch.delenv("DOORSTEP_JURISDICTION", raising=False)
    monkeypatch.setattr(cli_common.console, "width", 250)
    point_id = phone_of(world, world.assigned_case)
    ask = ["rules", "check", str(world.assigned_case), "call", "--point", str(point_id)]
    late = CliRunner().invoke(app, [*ask, "--at", at(9, 23).isoformat(), "--as", "manager"])
    assert late.exit_code == 1, late.output
    assert "blocked" in late.output and "CN-HOURS" in late.output
    rule = CN.rule("CN-HOURS")
    assert rule.message_en.split("{")[0][:12] in late.output
    noon = CliRunner().invoke(app, [*ask, "--at", at(9, 12).isoformat(), "--as", "manager"])
    assert noon.exit_code == 0 and "allowed" in noon.output
