"""The visit on SQLite and PostgreSQL: check-in and its flags, one visit per idempotency
key (also under a concurrent double submission), refusal after the assignment ends,
evidence refused by content and size, the verdict with its promise and outbox event, the
vulnerable borrower's hold, alerts, and the manager's review and close."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.checkin import Limits
from doorstep.domain.errors import (
    AssignmentEnded,
    DoorstepError,
    DuplicateSubmission,
    IllegalTransition,
    InvalidAnswers,
    TooFar,
)
from doorstep.domain.rules import load as load_pack
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import cases, visits
from doorstep.services.conduct import personal_data
from doorstep.services.people import users
from doorstep.services.visits import alerts
from doorstep.store.db import transaction
from doorstep.store.models import (
    Alert,
    Assignment,
    AuditEvent,
    Case,
    CaseHold,
    Evidence,
    OutboxEvent,
    PlanRoute,
    PlanStop,
    PromiseToPay,
    Team,
    User,
    Verdict,
    Visit,
    VisitPlan,
)
from tests.factories.book import TEST_CIPHER
from tests.factories.cases import schedule as scheduled
from tests.factories.visits import assigned_case_scheduled
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db

HOME = (39.9, 116.44)  # every address of the small book


def rules(**changes: Any) -> visits.VisitRules:
    """The default rules, but any hour is allowed: the tests run at any time of day (the
    hours rule has its own unit tests)."""
    from zoneinfo import ZoneInfo

    return visits.VisitRules(
        zone=ZoneInfo("Asia/Shanghai"),
        limits=Limits(hours_start=time(0, 0), hours_end=time.max),
        **{"cipher": TEST_CIPHER, **changes},
    )


def moment() -> datetime:
    """Now: the world's assignments are live around the real time."""
    return datetime.now(UTC)


def actor(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return users.actor_for(session, user)


def schedule(world: World, case_id: int | None = None) -> int:
    """Move the case to scheduled (by the system)."""
    return scheduled(world.engine, case_id or world.assigned_case)


def publish_plan(world: World, day: date, case_ids: list[int], team_id: int) -> None:
    """A published plan of `day` with the cases as the team's stops, in order."""
    with transaction(world.engine) as session:
        plan = VisitPlan(city="北京市", day=day, state="published", seconds=1, cost=0, distance_m=0)
        session.add(plan)
        session.flush()
        start = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        session.add(
            PlanRoute(
                plan_id=plan.id,
                team_id=team_id,
                depart_at=start,
                return_at=start + timedelta(hours=8),
                distance_m=0,
                drive_seconds=0,
                service_seconds=0,
            )
        )
        for seq, case_id in enumerate(case_ids, start=1):
            at = start + timedelta(hours=seq)
            session.add(
                PlanStop(
                    plan_id=plan.id,
                    case_id=case_id,
                    team_id=team_id,
                    seq=seq,
                    arrive_at=at,
                    start_at=at,
                    end_at=at + timedelta(minutes=30),
                    window_start=at - timedelta(hours=1),
                    window_end=at + timedelta(hours=2),
                    status="planned",
                )
            )


def team_id(world: World) -> int:
    with Session(world.engine) as session:
        return session.scalars(select(Team.id).where(Team.name == "北京一组")).one()


def check_in(world: World, lat: float = HOME[0], lng: float = HOME[1], **kw: Any) -> int:
    with transaction(world.engine) as session:
        visit, _ = visits.check_in(
            session,
            actor(session, "verifier"),
            world.assigned_case,
            lat=lat,
            lng=lng,
            accuracy_m=kw.pop("accuracy_m", 15.0),
            device_time=kw.pop("device_time", moment()),
            rules=kw.pop("rules", rules()),
            now=kw.pop("now", moment()),
            **kw,
        )
        return visit.id


ANSWERS: dict[str, str | list[str]] = {
    "met": "borrower",
    "disclosure_ack": "on",
    "address_status": "valid",
    "reasons": ["job_loss", "medical"],
    "primary_reason": "job_loss",
    "employment": "between jobs",
    "monthly_income": "3000",
    "essential_expenses": "2200.50",
    "dependants": "2",
    "willingness": "4",
    "ability_per_month": "800",
    "leaning": "hardship",
    "statement": "lost the job in March",
    "outcome": "promise",
    "promise_amount": "800.00",
}


def answers(**changes: str | list[str]) -> dict[str, str | list[str]]:
    out = dict(ANSWERS)
    out["promise_date"] = (moment().date() + timedelta(days=10)).isoformat()
    out.update(changes)
    return out


def jpeg(gps: tuple[float, float] | None = None, taken: str | None = None) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (8, 8), (200, 30, 30))
    exif = Image.Exif()
    if gps is not None:

        def dms(value: float) -> tuple[float, float, float]:
            d = int(value)
            m = int((value - d) * 60)
            return (float(d), float(m), round((value - d - m / 60) * 3600, 4))

        exif.get_ifd(0x8825).update({1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])})
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def submit(
    world: World,
    visit_id: int,
    key: str,
    store: LocalEvidenceStore,
    uploads: list[visits.Upload] | None = None,
    **kw: Any,
) -> visits.Submission:
    """What the page's entry point does: submit, commit; on a duplicate, roll back and
    answer with the submission the key made."""
    session = Session(world.engine, expire_on_commit=False)
    try:
        who = actor(session, "verifier")
        try:
            result = visits.submit(
                session,
                who,
                visit_id,
                key,
                kw.pop("answers", answers()),
                uploads or [],
                store=store,
                rules=kw.pop("rules", rules()),
                now=kw.pop("now", moment() + timedelta(minutes=30)),
            )
            session.commit()
            return result
        except DuplicateSubmission:
            session.rollback()
            earlier = visits.submitted_with(session, who, key)
            assert earlier is not None
            return earlier
    finally:
        session.close()


def count(engine: Engine, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world, its assigned case scheduled for the visit."""
    return build_world(engine, tmp_path, keys, then=assigned_case_scheduled)


@pytest.fixture
def store(tmp_path: Path) -> LocalEvidenceStore:
    return LocalEvidenceStore(tmp_path / "evidence")


def test_a_check_in_3_km_away_is_refused_then_flagged_with_a_reason(world: World) -> None:
    with pytest.raises(TooFar) as refused:
        check_in(world, lat=HOME[0] + 0.027)
    assert 2900 <= refused.value.distance_m <= 3100
    assert "3.0 km" in refused.value.message and "500 m" in refused.value.message
    assert count(world.engine, Visit) == 0  # nothing written

    visit_id = check_in(world, lat=HOME[0] + 0.027, reason="门牌与地图不符，已核对")
    with Session(world.engine) as session:
        visit = session.get(Visit, visit_id)
        case = session.get(Case, world.assigned_case)
        assert visit is not None and case is not None
        assert "far_from_address" in visit.flags and case.state == "visiting"
        assert sorted(visit.verifier_ids) == sorted(
            session.scalars(
                select(User.id).where(User.username.in_(["verifier", "verifier_mate"]))
            ).all()
        )
        assert personal_data.unseal_json(TEST_CIPHER, visit.interview) == {
            "check_in_note": "门牌与地图不符，已核对"
        }


def test_the_conduct_rules_decide_the_check_in(world: World) -> None:
    from doorstep.domain.errors import RuleBlocked
    from doorstep.domain.rules import load as load_pack
    from doorstep.store.models import RuleDecision

    pack = load_pack("cn")
    zone = rules().zone
    with transaction(world.engine) as session:  # live for two days either side
        session.execute(
            update(Assignment)
            .where(Assignment.case_id == world.assigned_case)
            .values(starts_at=moment() - timedelta(days=2), ends_at=moment() + timedelta(days=2))
        )
    today = moment().astimezone(zone).date()
    day_time = datetime(today.year, today.month, today.day, 10, 0, tzinfo=zone)
    night = datetime(today.year, today.month, today.day, 23, 30, tzinfo=zone)
    door = visits.Conduct(partner_present=True, id_shown=True, recording_on=True)
    with pytest.raises(RuleBlocked) as alone:
        check_in(world, rules=rules(pack=pack), now=day_time, conduct=visits.Conduct())
    assert {"CN-VISIT-TEAM", "CN-VISIT-ID", "CN-VISIT-AV"} <= {
        f.rule_id for f in alone.value.decision.fired
    }
    with pytest.raises(RuleBlocked) as late:
        check_in(world, rules=rules(pack=pack), now=night, conduct=door)
    assert [f.rule_id for f in late.value.decision.fired] == ["CN-HOURS"]
    assert count(world.engine, Visit) == 0
    visit_id = check_in(world, rules=rules(pack=pack), now=day_time, conduct=door)
    with Session(world.engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and "outside_hours" not in visit.flags
    # the refusals were decisions of the rules (recorded by the caller's commit in the app)
    assert count(world.engine, RuleDecision) == 0


def test_check_in_records_flags_and_a_second_tap_returns_the_same_visit(world: World) -> None:
    skewed = moment() + timedelta(minutes=9)
    first = check_in(world, accuracy_m=450.0, device_time=skewed, now=moment())
    again = check_in(world)
    assert first == again and count(world.engine, Visit) == 1
    with Session(world.engine) as session:
        visit = session.get(Visit, first)
        assert visit is not None
        assert visit.distance_m == 0
        assert set(visit.flags) == {"poor_accuracy", "clock_skew"}
        assert visit.device_checked_in_at == skewed


def test_a_double_submission_makes_one_visit(world: World, store: LocalEvidenceStore) -> None:
    visit_id = check_in(world)
    photo = visits.Upload("door.jpg", jpeg())
    first = submit(world, visit_id, "key-0001-double", store, [photo])
    second = submit(world, visit_id, "key-0001-double", store, [photo])
    assert not first.replayed and second.replayed
    assert first.visit.id == second.visit.id == visit_id
    assert count(world.engine, Verdict) == 1
    assert count(world.engine, PromiseToPay) == 1
    assert count(world.engine, Evidence) == 1
    assert count(world.engine, OutboxEvent, OutboxEvent.topic == "visit.verdict") == 1
    # another key for a submitted visit: a conflict, not a second verdict
    with pytest.raises(DoorstepError) as conflict:
        submit(world, visit_id, "key-0002-other", store)
    assert conflict.value.code == "conflict"
    assert count(world.engine, Verdict) == 1


def test_concurrent_double_tap_makes_one_visit(world: World, store: LocalEvidenceStore) -> None:
    visit_id = check_in(world)
    results: list[visits.Submission] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def tap() -> None:
        try:
            start.wait()
            results.append(submit(world, visit_id, "key-concurrent-1", store))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 2 and {r.visit.id for r in results} == {visit_id}
    assert sorted(r.replayed for r in results) == [False, True]
    assert count(world.engine, Verdict) == 1
    assert count(world.engine, AuditEvent, AuditEvent.action == "visit.submit") == 1


def test_submission_after_the_assignment_ended_is_refused(
    world: World, store: LocalEvidenceStore
) -> None:
    visit_id = check_in(world)
    with transaction(world.engine) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.case_id == world.assigned_case)
            .values(ends_at=moment() + timedelta(minutes=5))
        )
    with pytest.raises(AssignmentEnded) as refused:
        submit(world, visit_id, "key-late-0001", store)
    assert "no longer assigned" in refused.value.message
    assert "草稿" in refused.value.message_zh  # the verifier's draft is kept
    with Session(world.engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.state == "checked_in"
        assert visit.idempotency_key is None
    assert count(world.engine, Verdict) == 0


@pytest.mark.parametrize(
    ("name", "data", "limit", "message"),
    [
        ("photo.jpg", b"GIF89a not a jpeg at all", 20 * 1024 * 1024, "not a JPEG"),
        ("notes.mp3", b"#!/bin/sh\necho hello\n", 20 * 1024 * 1024, "not a JPEG"),
        ("big.jpg", b"\xff\xd8\xff\xe0" + b"0" * 4096, 2048, "larger than"),
    ],
)
def test_evidence_is_refused_by_content_and_size(
    world: World, store: LocalEvidenceStore, name: str, data: bytes, limit: int, message: str
) -> None:
    visit_id = check_in(world)
    with pytest.raises(InvalidAnswers) as refused:
        submit(
            world,
            visit_id,
            "key-evidence-1",
            store,
            [visits.Upload("ok.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32), visits.Upload(name, data)],
            rules=rules(evidence_max_bytes=limit),
        )
    assert [p.field for p in refused.value.problems] == ["evidence"]
    assert message in refused.value.message and name in refused.value.message
    assert count(world.engine, Evidence) == 0 and count(world.engine, Verdict) == 0
    assert not any(store.root.rglob("*")) if store.root.exists() else True
    with Session(world.engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.state == "checked_in"  # resubmit later


def test_missing_answers_are_named(world: World, store: LocalEvidenceStore) -> None:
    visit_id = check_in(world)
    bad = answers(willingness="9", ability_per_month="", disclosure_ack="", promise_amount="1.234")
    with pytest.raises(InvalidAnswers) as refused:
        submit(world, visit_id, "key-missing-1", store, answers=bad)
    fields = {p.field for p in refused.value.problems}
    assert fields == {"willingness", "ability_per_month", "disclosure_ack", "promise_amount"}
    assert "willingness to pay" in refused.value.message
    assert count(world.engine, Verdict) == 0


def test_the_verdict_its_promise_evidence_and_the_lender_event(
    world: World, store: LocalEvidenceStore
) -> None:
    visit_id = check_in(world)
    far_photo = jpeg(gps=(HOME[0] + 0.05, HOME[1]), taken="2020:01:01 10:00:00")
    submitted = moment() + timedelta(minutes=30)
    result = submit(
        world, visit_id, "key-verdict-1", store, [visits.Upload("a.jpg", far_photo)], now=submitted
    )
    with Session(world.engine) as session:
        verdict = session.get(Verdict, result.verdict.id)
        case = session.get(Case, world.assigned_case)
        visit = session.get(Visit, visit_id)
        promise = session.scalars(select(PromiseToPay)).one()
        evidence = session.scalars(select(Evidence)).one()
        event = session.scalars(select(OutboxEvent)).one()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "visit.submit")).one()
        assert verdict is not None and case is not None and visit is not None
        assert (verdict.next_step, verdict.next_step_rule) == ("follow_promise", "promise")
        assert verdict.ability_per_month == 80_000 and verdict.reached
        # the hardship rule set's advice, beside the verifier's own call
        assert verdict.hardship_or_evasion == "hardship"
        assert verdict.advice is not None and verdict.advice["advice_only"] is True
        assert verdict.advice["leaning"] in ("hardship", "evasion", "unclear")
        assert 0 < verdict.advice["probability"] < 1
        assert verdict.reasons == ["job_loss", "medical"] and verdict.primary_reason == "job_loss"
        # the business day of the submission (Shanghai), whatever the hour in UTC
        visited_on = submitted.astimezone(ZoneInfo("Asia/Shanghai")).date()
        assert case.state == "visited" and case.visited_on == visited_on
        assert visit.state == "submitted" and visit.met == "borrower"
        answered = personal_data.unseal_json(TEST_CIPHER, visit.interview)
        assert answered["essential_expenses"] == 220_050
        assert (promise.amount, promise.status, promise.visit_id) == (80_000, "open", visit_id)
        assert evidence.media_type == "image/jpeg" and store.exists(evidence.sha256)
        assert store.get(evidence.sha256) == far_photo
        shot = personal_data.unseal_position(TEST_CIPHER, evidence.exif_position)
        assert shot is not None and shot[0] == pytest.approx(HOME[0] + 0.05, abs=1e-3)
        assert {"exif_position", "exif_time"} <= set(visit.flags)
        assert audit.summary["evidence_sha256"] == [evidence.sha256]
        assert event.topic == "visit.verdict" and event.key == str(case.id)
        assert event.payload["ptp_amount"] == "800.00"
        assert event.payload["evidence_sha256"] == [evidence.sha256]
        assert event.payload["next_step"] == "follow_promise"


def test_a_changed_evidence_file_is_detected(world: World, store: LocalEvidenceStore) -> None:
    visit_id = check_in(world)
    data = jpeg()
    submit(world, visit_id, "key-tamper-01", store, [visits.Upload("a.jpg", data)])
    with Session(world.engine) as session:
        assert visits.verify_evidence(session, store) == []
        digest = session.scalars(select(Evidence.sha256)).one()
    store.path_for(digest).write_bytes(data + b"edited")
    with Session(world.engine) as session:
        assert [p.problem for p in visits.verify_evidence(session, store)] == ["changed"]
    store.path_for(digest).unlink()
    with Session(world.engine) as session:
        assert [p.problem for p in visits.verify_evidence(session, store)] == ["missing"]


def test_a_vulnerable_borrower_goes_to_a_specialist_and_no_more_visits(
    world: World, store: LocalEvidenceStore
) -> None:
    visit_id = check_in(world)
    result = submit(
        world,
        visit_id,
        "key-vulnerable",
        store,
        answers=answers(vulnerabilities=["illness"], outcome="none"),
    )
    assert result.verdict.next_step == "specialist" and result.verdict.vulnerable
    with Session(world.engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None and case.hold_reason == "vulnerability"
        holds = session.scalars(select(CaseHold).where(CaseHold.case_id == case.id)).all()
        assert [h.type for h in holds] == ["vulnerability"]
        assert "schedule" not in cases.actions_for(case)


def test_after_two_broken_promises_no_new_promise_is_taken(
    world: World, store: LocalEvidenceStore
) -> None:
    visit_id = check_in(world)
    with transaction(world.engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None
        for n in range(2):
            session.add(
                PromiseToPay(
                    case_id=case.id,
                    customer_id=case.customer_id,
                    amount=10_000,
                    due_on=date(2024, 5, 1 + n),
                    status="broken",
                    paid=0,
                )
            )
    with pytest.raises(InvalidAnswers) as refused:
        submit(world, visit_id, "key-promise-3", store)
    assert [p.field for p in refused.value.problems] == ["outcome"]
    result = submit(world, visit_id, "key-promise-3", store, answers=answers(outcome="plan"))
    assert (result.verdict.next_step, result.verdict.next_step_rule) == (
        "plan_offer",
        "plan_requested",
    )


def test_overdue_checkout_and_sos_alerts(world: World) -> None:
    visit_id = check_in(world)
    with transaction(world.engine) as session:
        assert alerts.raise_overdue_checkouts(session, moment() + timedelta(minutes=59)) == []
        raised = alerts.raise_overdue_checkouts(session, moment() + timedelta(minutes=61))
        assert [a.visit_id for a in raised] == [visit_id]
        assert alerts.raise_overdue_checkouts(session, moment() + timedelta(minutes=90)) == []
        sos = alerts.sos(
            session,
            actor(session, "verifier"),
            visit_id,
            lat=39.91,
            lng=116.45,
            now=moment(),
            cipher=TEST_CIPHER,
        )
        assert sos.kind == "sos"
        assert personal_data.unseal_position(TEST_CIPHER, sos.position) == (39.91, 116.45)
    with transaction(world.engine) as session:
        manager = actor(session, "manager")
        kinds = sorted(a.kind for a, _ in alerts.open_alerts(session, manager))
        assert kinds == ["overdue_checkout", "sos"]
        with pytest.raises(DoorstepError):
            alerts.resolve(session, manager, sos.id, "", moment())
        alerts.resolve(session, manager, sos.id, "called the team: safe", moment())
        with pytest.raises(DoorstepError):
            alerts.open_alerts(session, actor(session, "verifier"))
    assert count(world.engine, Alert, Alert.resolved_at.is_(None)) == 1


def test_check_out_stops_the_overdue_alert(world: World) -> None:
    visit_id = check_in(world)
    with transaction(world.engine) as session:
        visits.check_out(
            session,
            actor(session, "verifier"),
            visit_id,
            lat=HOME[0],
            lng=HOME[1],
            device_time=None,
            now=moment() + timedelta(minutes=40),
            cipher=TEST_CIPHER,
        )
        assert alerts.raise_overdue_checkouts(session, moment() + timedelta(hours=3)) == []


def test_manager_overrides_with_a_reason_and_closes(
    world: World, store: LocalEvidenceStore
) -> None:
    visit_id = check_in(world)
    submit(world, visit_id, "key-review-01", store, answers=answers(outcome="none"))
    with transaction(world.engine) as session:
        manager = actor(session, "manager")
        with pytest.raises(InvalidAnswers) as refused:
            visits.review(
                session,
                manager,
                world.assigned_case,
                override_step="legal_review",
                reason="",
                now=moment(),
            )
        assert refused.value.problems[0].field == "override_reason"
        with pytest.raises(DoorstepError):
            visits.review(
                session,
                actor(session, "verifier"),
                world.assigned_case,
                override_step=None,
                reason=None,
                now=moment(),
            )
    with transaction(world.engine) as session:
        manager = actor(session, "manager")
        verdict = visits.review(
            session,
            manager,
            world.assigned_case,
            override_step="legal_review",
            reason="收入稳定但拒绝沟通",
            now=moment(),
        )
        assert (verdict.next_step, verdict.override_step) == ("plan_offer", "legal_review")
        with pytest.raises(IllegalTransition, match="reason"):  # a close says why
            visits.close(session, manager, world.assigned_case, reason=" ", now=moment())
        case = visits.close(session, manager, world.assigned_case, reason="已复核", now=moment())
        assert case.state == "closed"
    assert count(world.engine, AuditEvent, AuditEvent.action == "verdict.override") == 1
    assert count(world.engine, OutboxEvent, OutboxEvent.topic == "case.closed") == 1


def test_the_day_lists_plan_stops_in_order_then_cases_scheduled_by_hand(world: World) -> None:
    team = team_id(world)
    now = datetime.now(UTC)
    today = now.astimezone(rules().zone).date()
    with transaction(world.engine) as session:  # a second case for the team, not planned
        from doorstep.services.people import teams

        teams.assign(
            session,
            SYSTEM,
            world.other_case,
            team,
            now - timedelta(hours=1),
            now + timedelta(hours=8),
        )
    schedule(world, world.other_case)
    spare = next(c for c in world.case_ids if c not in (world.assigned_case, world.other_case))
    publish_plan(world, today, [spare, world.assigned_case], team)  # spare: not assigned
    with transaction(world.engine) as session:
        verifier = actor(session, "verifier")
        cipher = world.cipher
        stops = visits.day(session, verifier, cipher, today, now=now, pack=load_pack("cn"))  # type: ignore[arg-type]
        assert [(s.case.id, s.planned, s.seq) for s in stops] == [
            (world.assigned_case, True, 2),
            (world.other_case, False, None),
        ]
        first = stops[0]
        assert first.address in world.addresses and first.geo_uri is not None
        assert first.geo_uri.startswith("geo:39.900000,116.440000")
        assert visits.map_link("https://m.example/?p={lng},{lat}", first) == (
            "https://m.example/?p=116.440000,39.900000"
        )
    reveals = count(
        world.engine,
        AuditEvent,
        AuditEvent.action == "personal_data.reveal",
        AuditEvent.object_id == str(world.assigned_case),
    )
    assert reveals == 1
    with transaction(world.engine) as session, pytest.raises(DoorstepError):
        visits.day(
            session, actor(session, "manager"), world.cipher, today, now=now, pack=load_pack("cn")
        )  # type: ignore[arg-type]
