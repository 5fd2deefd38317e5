"""Cases over a real database: selection under capacity, reruns, cures, holds, contact
attempts and skip-trace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.case import OPEN_STATES, Caller
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import Conflict, DoorstepError, Forbidden, IllegalTransition
from doorstep.domain.rules import load as load_pack
from doorstep.domain.selection import SelectionPolicy
from doorstep.services import cases
from doorstep.services.cases import SelectionReport, contacts, select_cases
from doorstep.services.conduct import audit
from doorstep.services.delinquency import run_delinquency
from doorstep.services.ingest import ingest_files
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import Case, ContactPoint, OutboxEvent, Team, User, Verdict, Visit
from tests.factories.book import Book, small_book
from tests.factories.world import ANYTIME_RULES, AS_OF, build_world

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
RECENT = "2024-05-20T10:00:00+08:00"
ANYTIME = load_pack("cn", (ANYTIME_RULES.name, ANYTIME_RULES.read_text("utf-8")))


@pytest.fixture(autouse=True)
def _any_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(ANYTIME_RULES))


def load(engine: Engine, book: Book, folder: Path, keys: tuple[Any, Any]) -> None:
    cipher, hasher = keys
    with transaction(engine) as session:
        ingest_files(
            session,
            [book.write(folder)],
            zone=ZONE,
            reports_dir=folder / "r",
            cipher=cipher,
            hasher=hasher,
        )


def batch(
    engine: Engine, as_of: date, capacity: int = 100, holdout: Decimal = Decimal(0)
) -> SelectionReport:
    """The day's delinquency, then selection, as the nightly batch runs them (no holdout
    unless the test is about it)."""
    with transaction(engine) as session:
        run_delinquency(session, as_of, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
    with transaction(engine) as session:
        return select_cases(
            session,
            SYSTEM,
            as_of,
            policy=SelectionPolicy(holdout_share=holdout),
            capacity=capacity,
            buckets=DEFAULT_BUCKETS,
        )


def field_book(customers: int = 8) -> Book:
    """Everyone overdue with an address our own staff saw last month (trusted: ~0.8),
    except the last customer, whose addresses are all below 0.5: a stale vendor record
    already found invalid, and an unverified vendor address (0.45)."""
    book = small_book(customers)
    for row in book.rows["addresses"]:
        row.update(source="field", observed_at=RECENT, status="")
    last = book.rows["addresses"][-1]
    last.update(source="third_party", status="invalid")
    book.rows["addresses"].append(
        {**last, "kind": "other", "text": "北京市海淀区某小区8号", "status": ""}
    )
    return book


def states(engine: Engine) -> dict[str, tuple[str, bool]]:
    with transaction(engine) as session:
        rows = session.execute(select(Case.customer_id, Case.state, Case.skip_trace)).all()
    return {customer: (state, skip) for customer, state, skip in rows}


def test_selection_under_capacity_and_rerun(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    load(engine, field_book(8), tmp_path / "book", keys)
    report = batch(engine, AS_OF, capacity=3)
    assert report.overdue_customers == 8
    assert (report.eligible, report.made_ready, report.over_capacity) == (7, 3, 4)
    assert (report.opened, report.skip_trace) == (8, 1)  # 7 selected + 1 for skip-trace
    assert report.failed_rules == {"address_confidence": 1}
    opened = states(engine)
    assert (
        sorted(state for state, _ in opened.values())
        == ["confirming"] + ["new"] * 4 + ["ready"] * 3
    )
    assert opened["C0008"] == ("confirming", True)  # skip-trace: no address good enough
    assert [c for c, (state, _) in sorted(opened.items()) if state == "ready"] == [
        "C0001",
        "C0002",
        "C0003",
    ]  # equal priority: customer id breaks the tie

    again = batch(engine, AS_OF, capacity=3)
    assert (again.opened, again.made_ready, again.updated) == (0, 0, 8)
    assert again.failed_rules["open_case"] == 8
    with transaction(engine) as session:
        per_customer = session.execute(
            select(Case.customer_id, func.count()).group_by(Case.customer_id)
        ).all()
    assert sorted(n for _, n in per_customer) == [1] * 8
    assert states(engine) == opened


def test_customer_who_pays_everything_is_cancelled_as_cured(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        case = session.scalar(select(Case).where(Case.customer_id == "C0001"))
        assert case is not None and case.state in {s.value for s in OPEN_STATES}
        case_id = case.id
    payoff = Book(
        {
            "payments": [
                {
                    "payment_id": "P9001",
                    "loan_id": "L0001",
                    "paid_on": "2024-06-05",
                    "amount": "13000.00",
                    "channel": "bank_transfer",
                }
            ]
        }
    )
    load(engine, payoff, tmp_path / "payoff", keys)
    report = batch(engine, date(2024, 6, 5))
    assert report.cancelled_cured == 1
    assert report.opened == 0
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.cancel_reason) == ("cancelled", "cured")
        last = audit.timeline(session, "case", case_id)[-1]
        assert (last.action, last.reason, last.actor) == ("case.cancel", "cured", "system")
        others = session.scalars(select(Case.state).where(Case.id != case_id)).all()
    assert "cancelled" not in others
    assert len(others) == len(world.case_ids) - 1
    assert batch(engine, date(2024, 6, 5)).cancelled_cured == 0  # already cancelled


def manager(engine: Engine) -> Actor:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "manager"))
        assert user is not None
        return users.actor_for(session, user)


def test_hold_blocks_schedule_and_is_audited(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss, case_id = manager(engine), world.other_case
    with transaction(engine) as session:
        session.execute(update(Case).where(Case.id == case_id).values(state="confirming"))
        cases.act(session, boss, case_id, "mark_ready", reason="address confirmed by phone")
        held = cases.act(
            session,
            boss,
            case_id,
            "hold",
            hold_reason="complaint",
            reason="borrower filed a complaint",
            now=datetime.now(UTC),
        )
        assert (held.state, held.hold_reason) == ("ready", "complaint")
        assert "schedule" not in cases.actions_for(held)
    with pytest.raises(IllegalTransition), transaction(engine) as session:
        cases.act(session, boss, case_id, "schedule")
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and (case.state, case.hold_reason) == ("ready", "complaint")
        events = [
            (e.action, e.actor, e.reason, e.summary.get("hold"))
            for e in audit.timeline(session, "case", case_id)
        ]
        assert events[-1] == ("case.hold", "manager", "borrower filed a complaint", "complaint")
        assert not any(action == "case.schedule" for action, *_ in events)

        now = datetime.now(UTC)
        cases.act(session, boss, case_id, "release", reason="complaint withdrawn", now=now)
        scheduled = cases.act(session, boss, case_id, "schedule")
        assert scheduled.state == "scheduled"
        back = cases.act(
            session, boss, case_id, "hold", hold_reason="dispute", reason="disputed", now=now
        )
        assert (back.state, back.hold_reason) == ("ready", "dispute")  # the visit is off


def record(
    session: Session,
    actor: Actor,
    case_id: int,
    point_id: int,
    channel: AttemptChannel,
    result: AttemptResult,
) -> ContactPoint:
    """An attempt made now, under rules that allow any hour (the tests run at any time)."""
    return contacts.record_attempt(
        session, actor, case_id, point_id, channel, result, at=datetime.now(UTC), pack=ANYTIME
    )


def points_of(engine: Engine, case_id: int) -> dict[str, int]:
    with transaction(engine) as session:
        rows = session.execute(
            select(ContactPoint.channel, ContactPoint.id)
            .join(Case, Case.customer_id == ContactPoint.customer_id)
            .where(Case.id == case_id)
        ).all()
    return dict(rows)


def test_contact_attempts_move_status_and_confidence(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    boss = manager(engine)
    first, second = (points_of(engine, c) for c in (world.assigned_case, world.other_case))
    with transaction(engine) as session:
        phone = record(
            session,
            boss,
            world.assigned_case,
            first["phone"],
            AttemptChannel.CALL,
            AttemptResult.REACHED,
        )
        assert (phone.status, phone.confidence) == ("confirmed", 0.9)  # was unverified, 0.6
        wrong = record(
            session,
            boss,
            world.other_case,
            second["phone"],
            AttemptChannel.CALL,
            AttemptResult.WRONG_NUMBER,
        )
        assert (wrong.status, wrong.confidence) == ("invalid", 0.05)
        gone = record(
            session,
            boss,
            world.assigned_case,
            first["address"],
            AttemptChannel.FIELD,
            AttemptResult.MOVED,
        )
        assert (gone.status, gone.confidence) == ("invalid", 0.05)
        ranked = contacts.ranked(session, "C0001", datetime.now(UTC))
        assert contacts.best(ranked, "address") is None  # the only address is invalid now
        trail = audit.timeline(session, "case", world.assigned_case)
        assert [e.summary["result"] for e in trail if e.action == "contact.attempt"] == [
            "reached",
            "moved",
        ]
    with pytest.raises(DoorstepError, match="addresses only"), transaction(engine) as session:
        record(
            session,
            boss,
            world.other_case,
            second["phone"],
            AttemptChannel.CALL,
            AttemptResult.MOVED,
        )
    with pytest.raises(DoorstepError, match="phones only"), transaction(engine) as session:
        record(
            session,
            boss,
            world.other_case,
            second["address"],
            AttemptChannel.FIELD,
            AttemptResult.WRONG_NUMBER,
        )
    analyst = Actor("analyst", Role.ANALYST)
    with pytest.raises(Forbidden), transaction(engine) as session:
        record(
            session,
            analyst,
            world.other_case,
            second["phone"],
            AttemptChannel.CALL,
            AttemptResult.REACHED,
        )


def test_customer_without_a_good_address_is_flagged_for_skip_trace(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    load(engine, field_book(3), tmp_path / "book", keys)
    report = batch(engine, AS_OF)
    assert (report.opened, report.made_ready, report.skip_trace) == (3, 2, 1)
    with transaction(engine) as session:
        flagged = session.scalars(select(Case).where(Case.skip_trace.is_(True))).all()
        assert [(c.customer_id, c.state) for c in flagged] == [("C0003", "confirming")]
        trust = [
            r.trust
            for r in contacts.ranked(session, "C0003", datetime.now(UTC))
            if r.point.channel == "address"
        ]
        assert len(trust) == 2 and max(trust) < 0.5
        reasons = [e.reason for e in audit.timeline(session, "case", flagged[0].id)]
        assert "no address good enough: skip-trace" in reasons
    hits = cases.list_visible
    with transaction(engine) as session:
        rows, total = hits(session, SYSTEM, cases.CaseFilter(skip_trace=True))
    assert total == 1 and rows[0].customer_id == "C0003"


def test_a_holdout_share_is_kept_back_unvisited_and_not_selected_again(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    load(engine, field_book(8), tmp_path / "book", keys)
    report = batch(engine, AS_OF, capacity=7, holdout=Decimal("0.5"))
    assert report.holdout + report.made_ready == 7  # every selected one: ready or kept back
    assert 0 < report.holdout < 7  # a hash of customer and day: about half of 7
    with transaction(engine) as session:
        held = session.execute(
            select(Case.customer_id, Case.state).where(Case.cancel_reason == "holdout")
        ).all()
        assert len(held) == report.holdout and {s for _, s in held} == {"cancelled"}
    first = {c for c, _ in held}

    # ten days on they stay out: the cure window is not over
    later = batch(engine, AS_OF + timedelta(days=10), capacity=7, holdout=Decimal("0.5"))
    assert later.failed_rules.get("holdout") == len(first)
    assert later.opened == 0
    with transaction(engine) as session:
        reopened = session.scalars(
            select(Case.customer_id).where(
                Case.customer_id.in_(first), Case.cancel_reason.is_(None)
            )
        ).all()
    assert reopened == []


def test_apply_checks_the_version_audits_one_shape_and_tells_the_lender(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The one way to move a case, as another service calls it: a stale version is a
    conflict, every move is audited with from/to/hold/hold_before and its reason, a close
    with a lender payload writes the outbox event, a hold needs the time it starts at."""
    world = build_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        case = session.get(Case, world.other_case)
        assert case is not None
        case.state = "ready"
        session.flush()
        seen = case.version
        with pytest.raises(Conflict):
            cases.apply(
                session, SYSTEM, case, "schedule", by=Caller.PLANNER, expected_version=seen - 1
            )
        cases.apply(
            session,
            SYSTEM,
            case,
            "schedule",
            by=Caller.PLANNER,
            reason="plan 7",
            expected_version=seen,
        )
        assert (case.state, case.version) == ("scheduled", seen + 1)
        with pytest.raises(TypeError, match="now"):
            cases.apply(session, SYSTEM, case, "hold", by=Caller.CONDUCT, hold_reason="dispute")
        case.state = "visited"  # as a submitted visit leaves it, but with no verdict
        session.flush()
        closed_at = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
        with pytest.raises(IllegalTransition, match="verdict"):
            cases.apply(
                session, SYSTEM, case, "close", by=Caller.USER, reason="reviewed", now=closed_at
            )
        with pytest.raises(TypeError, match="now"):  # the lender is told when
            cases.apply(session, SYSTEM, case, "close", by=Caller.USER, reason="reviewed")
        _judged(session, case, next_step="monitor")
        cases.apply(
            session, SYSTEM, case, "close", by=Caller.USER, reason="reviewed", now=closed_at
        )
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.key == str(case.id))).all()
        told = {
            "case_id": case.id,
            "customer_id": case.customer_id,
            "next_step": "monitor",
            "closed_at": closed_at.isoformat(),
        }
        assert [(e.topic, e.payload) for e in events] == [("case.closed", told)]
        trail = [
            (e.action, e.reason, e.summary)
            for e in audit.timeline(session, "case", case.id)
            if e.action in ("case.schedule", "case.close")
        ]
    assert trail == [
        (
            "case.schedule",
            "plan 7",
            {"from": "ready", "to": "scheduled", "hold": None, "hold_before": None},
        ),
        (
            "case.close",
            "reviewed",
            {"from": "visited", "to": "closed", "hold": None, "hold_before": None},
        ),
    ]


def _judged(session: Session, case: Case, *, next_step: str) -> None:
    """A submitted visit to the case with its verdict, as a submission leaves them."""
    team = session.scalars(select(Team).order_by(Team.id)).first()
    assert team is not None
    at = datetime(2024, 6, 2, 1, 0, tzinfo=UTC)
    visit = Visit(
        case_id=case.id, team_id=team.id, verifier_ids=[1, 2], state="submitted",
        checked_in_at=at, checked_out_at=at, flags=[],
    )  # fmt: skip
    session.add(visit)
    session.flush()
    session.add(
        Verdict(
            case_id=case.id, visit_id=visit.id, reached=True, address_status="valid",
            primary_reason="job_loss", reasons=["job_loss"], hardship_or_evasion="hardship",
            next_step=next_step,
        )
    )  # fmt: skip
    session.flush()
