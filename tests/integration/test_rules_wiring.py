"""The conduct rules wired into the database: the contact log through the engine (blocked
attempts logged as blocked, counters per local day), holds with end rules and who may lift
them, reveals through `reveal_personal_data`, the compliance report. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, update

from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.errors import DoorstepError, Forbidden, InvalidValue, ReasonRequired
from doorstep.domain.ports import Cipher
from doorstep.domain.rules import load
from doorstep.services import cases
from doorstep.services.cases import contacts
from doorstep.services.conduct import audit
from doorstep.services.conduct import rules as conduct
from doorstep.store.db import transaction
from doorstep.store.models import (
    Base,
    Case,
    CaseHold,
    ContactAttempt,
    ContactPoint,
    Customer,
    RuleDecision,
)
from tests.factories.book import TEST_CIPHER
from tests.factories.people import actor
from tests.factories.world import build_world

pytestmark = pytest.mark.db
SH = ZoneInfo("Asia/Shanghai")
CN = load("cn")
CALL, REACHED, NO_ANSWER = AttemptChannel.CALL, AttemptResult.REACHED, AttemptResult.NO_ANSWER


def phone_of(engine: Engine, case_id: int) -> int:
    with transaction(engine) as session:
        point_id = session.scalar(
            select(ContactPoint.id)
            .join(Case, Case.customer_id == ContactPoint.customer_id)
            .where(Case.id == case_id, ContactPoint.channel == "phone")
            .order_by(ContactPoint.id)
        )
        assert point_id is not None
        return point_id


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [
        d
        for d in diff
        if any(t in repr(d) for t in ("case_holds", "rule_decisions", "contact_attempts"))
    ]
    assert not mine


def test_quiet_hours_block_is_logged_as_blocked_not_made(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, case_id = actor(engine, "manager"), world.assigned_case
    point_id = phone_of(engine, case_id)
    with transaction(engine) as session:
        before = session.get(ContactPoint, point_id)
        assert before is not None
        status = (before.status, before.confidence)
        outcome = contacts.attempt(
            session, boss, case_id, point_id, CALL, REACHED, at=at(10, 22), pack=CN
        )
        assert outcome.decision.blocked and outcome.decision.rule_ids == ("CN-HOURS",)
        assert (outcome.point.status, outcome.point.confidence) == status  # not moved
    with transaction(engine) as session:
        row = session.scalars(select(ContactAttempt)).one()
        assert (row.performed, row.decision, row.connected) == (False, "blocked", False)
        assert row.rules_fired and row.rules_fired[0]["id"] == "CN-HOURS"
        assert (row.person_zone, str(row.local_day)) == ("Asia/Shanghai", "2026-03-10")
        kept = session.scalars(select(RuleDecision)).one()
        assert (kept.outcome, kept.performed, kept.case_id) == ("blocked", False, case_id)
        trail = [e.action for e in audit.timeline(session, "case", case_id)]
        assert "contact.blocked" in trail and "contact.attempt" not in trail
        # 21:59 the same evening is allowed and logged as made
        done = contacts.attempt(
            session, boss, case_id, point_id, CALL, REACHED, at=at(10, 21, 59), pack=CN
        )
        assert done.decision.allowed and done.attempt.performed and done.attempt.connected


def test_fourth_connected_call_across_staff_and_next_day(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, admin = actor(engine, "manager"), actor(engine, "admin")
    case_id = world.assigned_case
    point_id = phone_of(engine, case_id)
    with transaction(engine) as session:
        for n, who in enumerate((boss, admin, boss)):  # three connected calls, two people
            contacts.attempt(
                session, who, case_id, point_id, CALL, REACHED, at=at(10, 9 + n), pack=CN
            )
        fourth = contacts.attempt(
            session, admin, case_id, point_id, CALL, REACHED, at=at(10, 15), pack=CN
        )
        assert fourth.decision.rule_ids == ("CN-CALLS-EFFECTIVE",)
        # the person's next local day starts at 00:00 Shanghai (16:00 UTC): counters reset
        nextday = contacts.attempt(
            session, boss, case_id, point_id, CALL, REACHED, at=at(11, 9), pack=CN
        )
        assert nextday.decision.allowed
        made = session.scalars(
            select(ContactAttempt).where(ContactAttempt.performed.is_(True))
        ).all()
        assert len(made) == 4


def test_warned_contact_needs_a_reason_and_reports_it(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, auditor = actor(engine, "manager"), actor(engine, "auditor")
    case_id = world.assigned_case
    point_id = phone_of(engine, case_id)
    soft = load("cn", ("site.toml", '[rules.CN-HOURS]\nseverity = "warn"'))
    with transaction(engine) as session:
        with pytest.raises(ReasonRequired):
            contacts.attempt(
                session, boss, case_id, point_id, CALL, NO_ANSWER, at=at(10, 23), pack=soft
            )
        assert session.scalars(select(ContactAttempt)).all() == []  # nothing half-written
        done = contacts.attempt(
            session,
            boss,
            case_id,
            point_id,
            CALL,
            NO_ANSWER,
            at=at(10, 23),
            pack=soft,
            override_reason="debtor asked for a late call on the recorded line",
            cipher=TEST_CIPHER,
        )
        assert done.decision.outcome.value == "warned" and done.attempt.performed
        report = conduct.compliance_report(
            session, auditor, at(10, 0).date(), at(10, 0).date(), pack=CN
        )
        row = next(r for r in report.rows if r.verifier == "manager")
        assert row.warned == {"CN-HOURS": 1} and row.quiet_hour_contacts == 1
        assert "late call" in row.overrides[0]
        text = conduct.report_csv(report)
        assert "warned,CN-HOURS,1" in text and "quiet_hour_contacts,,1" in text
        with pytest.raises(Forbidden):
            conduct.compliance_report(
                session, actor(engine, "verifier"), at(10, 0).date(), at(10, 0).date(), pack=CN
            )


def test_holds_rows_end_rules_and_who_may_lift(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, admin = actor(engine, "manager"), actor(engine, "admin")
    case_id = world.assigned_case
    point_id = phone_of(engine, case_id)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        held = cases.act(
            session,
            boss,
            case_id,
            "hold",
            hold_reason="breathing_space",
            reason="debt adviser registered a breathing space",
            now=now,
        )
        assert held.hold_reason == "breathing_space"
        row = session.scalars(select(CaseHold)).one()
        assert row.ends_at is not None
        assert row.ends_at - row.started_at == timedelta(days=60)
        blocked = contacts.attempt(session, boss, case_id, point_id, CALL, REACHED, at=now, pack=CN)
        assert "CN-HOLD" in blocked.decision.rule_ids and not blocked.attempt.performed
        plan = conduct.check_plan_visit(
            session, case_id, at(10, 10), at(10, 11), 2, pack=CN, now=now
        )
        assert "CN-HOLD" in plan.rule_ids
    with transaction(engine) as session, pytest.raises(Forbidden):
        cases.act(session, boss, case_id, "release", reason="adviser cancelled", now=now)
    with transaction(engine) as session:
        released = cases.act(
            session, admin, case_id, "release", reason="adviser cancelled", now=now
        )
        assert released.hold_reason is None
        row = session.scalars(select(CaseHold)).one()
        assert (row.lifted_by, row.lift_reason) == ("admin", "adviser cancelled")
    with transaction(engine) as session:  # a hold ended by its end rule
        cases.act(
            session, boss, case_id, "hold", hold_reason="breathing_space", reason="again", now=now
        )
        later = now + timedelta(days=61)
        assert conduct.hold_types(session, case_id, later) == ()
        assert cases.expire_holds(session, admin, later) == 1
        case = session.get(Case, case_id)
        assert case is not None and case.hold_reason is None
        ended = audit.timeline(session, "case", case_id)[-1]
        assert (ended.action, ended.actor, ended.summary["hold_before"]) == (
            "case.hold_ended",
            "admin",
            "breathing_space",
        )
        assert ended.reason and "60 days" in ended.reason
        row = session.scalars(select(CaseHold).order_by(CaseHold.id.desc())).first()
        assert row is not None and row.lifted_by == conduct.END_RULE


def test_reveal_goes_through_the_rule(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, verifier = actor(engine, "manager"), actor(engine, "verifier")
    with transaction(engine) as session:
        value = contacts.reveal(
            session,
            verifier,
            cast(Cipher, world.cipher),
            world.assigned_case,
            field="id_number",
            reason="check the ID at the door",
            purpose="visit_preparation",
            pack=CN,
            now=datetime.now(UTC),
        )
        assert value in world.id_numbers
    with transaction(engine) as session, pytest.raises(InvalidValue, match="purpose"):
        contacts.reveal(  # not a purpose on the list at all
            session,
            boss,
            cast(Cipher, world.cipher),
            world.assigned_case,
            field="id_number",
            reason="just curious",
            purpose="curiosity",
            pack=CN,
            now=datetime.now(UTC),
        )
    narrow = load("cn", ("x.toml", '[rules.CN-PIPL-SENSITIVE.params]\npurposes = ["legal"]'))
    with transaction(engine) as session, pytest.raises(Forbidden, match="purpose"):
        contacts.reveal(  # on the list, but not one the pack declares
            session,
            boss,
            cast(Cipher, world.cipher),
            world.assigned_case,
            field="id_number",
            purpose="borrower_request",
            pack=narrow,
            now=datetime.now(UTC),
        )


def test_allowed_visit_hours_follow_the_pack() -> None:
    day = date(2026, 3, 8)
    from datetime import time

    assert conduct.allowed_visit_hours(CN, day, SH) == [(time(8), time(22))]
    us = load("us")
    assert conduct.allowed_visit_hours(us, day, ZoneInfo("America/New_York")) == [
        (time(8), time(21))
    ]
    odd = load("cn", ("x.toml", '[rules.CN-HOURS.params]\nstart = "12:00"\nend = "13:00"'))
    assert conduct.allowed_visit_hours(odd, day, SH) == [(time(0), time(12)), (time(13), time.max)]


def test_retention_dry_run_reports_due_and_legal_holds(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    admin = actor(engine, "admin")
    long_ago = datetime.now(UTC) - timedelta(days=6 * 366)
    with transaction(engine) as session:
        first, second = (session.get(Case, c) for c in world.case_ids[:2])
        assert first is not None and second is not None
        for case in (first, second):
            session.execute(
                update(Case)
                .where(Case.customer_id == case.customer_id)
                .values(state="closed", updated_at=long_ago)
            )
        session.add(CaseHold(case_id=second.id, type="dispute", started_by="admin"))
    with transaction(engine) as session:
        lines = conduct.retention_report(
            session, admin, datetime.now(UTC), pack=CN, personal_data_years=5
        )
        personal = lines[-1]
        assert (personal.past_period, personal.legal_hold, personal.action) == (2, 1, "minimise")
        assert {line.table for line in lines} >= {"contact_attempts", "audit_events"}
        # every period from the pack or the settings (the dossier cache keeps a day)
        assert all(line.keep_years == 5 for line in lines if not line.table.startswith("dossier"))
        trail = audit.timeline(session, "retention", datetime.now(UTC).date().isoformat())
        assert [e.action for e in trail] == ["retention.dry_run"]
        untouched = session.get(Customer, first.customer_id)
        assert untouched is not None and untouched.id_number  # the dry run changed nothing
    with transaction(engine) as session:
        lines = conduct.retention_report(
            session, admin, datetime.now(UTC), pack=CN, personal_data_years=5, dry_run=False
        )
        assert lines[-1].action == "minimised 1"
    with transaction(engine) as session:
        gone = session.get(Customer, first.customer_id)
        kept = session.get(Customer, second.customer_id)  # under a legal hold
        assert gone is not None and kept is not None
        assert gone.id_number == "" and gone.employer is None and gone.name.endswith("*")
        assert gone.id_number_masked and kept.id_number and not kept.name.endswith("*")
        points = session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == first.customer_id)
        ).all()
        assert points and all(p.value == "" and p.value_masked for p in points)
        trail = audit.timeline(session, "retention", datetime.now(UTC).date().isoformat())
        assert [e.action for e in trail] == ["retention.dry_run", "retention.run"]
        with pytest.raises(DoorstepError, match="minimised"):
            contacts.reveal(
                session,
                admin,
                cast(Cipher, world.cipher),
                first.id,
                field="id_number",
                purpose="legal",
                reason="复核身份信息",
                pack=CN,
                now=datetime.now(UTC),
            )
