"""Field work that follows selection and visits, on SQLite and PostgreSQL (issue 20):
capacity per city, skip-trace as tasks that end when an address is good enough, the
interview's rules for third parties, next steps and broken promises as tasks with owner,
due day and an alert when overdue, and the review queue's ageing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import InvalidAnswers
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import visits
from doorstep.services.cases import capture, tasks
from doorstep.services.repayment.promises import judge_promises
from doorstep.store.db import transaction
from doorstep.store.models import Alert, Case, CaseTask, OutboxEvent, User, Verdict, Visit
from tests.factories.book import in_shanghai
from tests.factories.repayment import four_promises
from tests.factories.visits import assigned_case_scheduled
from tests.factories.world import ANYTIME_RULES, AS_OF, World, build_world
from tests.integration.test_cases_service import batch, field_book, load, states
from tests.integration.test_promises import NOW
from tests.integration.test_visits import actor, answers, check_in, moment, rules

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _any_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_RULES_FILE", str(ANYTIME_RULES))


def open_tasks(engine: Engine, case_id: int | None = None) -> list[CaseTask]:
    with Session(engine) as session:
        query = select(CaseTask).where(CaseTask.state == "open").order_by(CaseTask.id)
        if case_id is not None:
            query = query.where(CaseTask.case_id == case_id)
        return list(session.scalars(query))


# -- capacity per city ---------------------------------------------------------------------


def test_each_city_is_made_ready_against_its_own_teams(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """C0004 lives in 上海市, where no team works: it is not made ready (a pooled
    capacity made it ready and kept it there), 北京市 fills its own two, and an alert
    says 上海市 has demand and no team, once."""
    load(engine, in_shanghai(field_book(8)), tmp_path / "book", keys)
    report = batch(engine, AS_OF, capacity={"北京市": 2})  # type: ignore[arg-type]
    ready = sorted(c for c, (state, _) in states(engine).items() if state == "ready")
    assert ready == ["C0001", "C0002"] and report.made_ready == 2
    assert report.unplaced_by_city == {"北京市": 4, "上海市": 1}
    assert report.cities_without_team == ["上海市"]
    batch(engine, AS_OF + timedelta(days=1), capacity={"北京市": 2})  # type: ignore[arg-type]
    with Session(engine) as session:
        alerts = session.scalars(select(Alert).where(Alert.kind == "city_without_team")).all()
        assert [a.detail["city"] for a in alerts if a.detail] == ["上海市"]


# -- skip-trace as work --------------------------------------------------------------------


def test_skip_trace_opens_a_task_per_source_and_ends_on_a_good_address(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    load(engine, field_book(8), tmp_path / "book", keys)
    batch(engine, AS_OF, capacity=100)
    assert states(engine)["C0008"] == ("confirming", True)
    with Session(engine) as session:
        case = session.scalars(select(Case).where(Case.customer_id == "C0008")).one()
    traced = open_tasks(engine, case.id)
    assert sorted(t.kind for t in traced) == [
        "trace_portal",
        "trace_products",
        "trace_references",
        "trace_registries",
    ]
    assert {t.due_on for t in traced} == {AS_OF + timedelta(days=5), AS_OF + timedelta(days=7)}

    cipher, hasher = keys
    with transaction(engine) as session:  # the lender's other product holds an address
        held = session.get(Case, case.id)
        assert held is not None
        point = capture.capture(
            session,
            SYSTEM,
            held,
            "address",
            "北京市朝阳区新源里9号",
            source="core_banking",
            via="trace_products",
            keys=capture.Keys(cipher, hasher),  # type: ignore[arg-type]
            now=moment(),
        )
        assert point.status == "unverified" and point.value != "北京市朝阳区新源里9号"
    report = batch(engine, AS_OF + timedelta(days=1), capacity=100)
    assert report.left_skip_trace == 1
    assert states(engine)["C0008"] == ("ready", False)
    assert open_tasks(engine, case.id) == []


# -- the interview, the verdict and the next step as work ----------------------------------


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    return build_world(engine, tmp_path, keys, then=assigned_case_scheduled)


def submit(world: World, tmp_path: Path, given: dict[str, Any], **kw: Any) -> visits.Submission:
    visit_id = check_in(world)
    with transaction(world.engine) as session:
        return visits.submit(
            session,
            actor(session, "verifier"),
            visit_id,
            "fieldwork-key-1",
            given,
            [],
            store=LocalEvidenceStore(tmp_path / "evidence"),
            rules=rules(),
            now=moment() + timedelta(minutes=30),
            **kw,
        )


def test_a_relative_met_gives_not_met_and_no_answers_about_the_debt(
    world: World, tmp_path: Path, keys: tuple[object, object]
) -> None:
    family = {"met": "family", "disclosure_ack": "on", "address_status": "valid"}
    with pytest.raises(InvalidAnswers) as refused:
        submit(world, tmp_path, {**family, "leaning": "evasion", "willingness": "1"})
    assert {p.field for p in refused.value.problems} == {"leaning", "willingness"}

    cipher, hasher = keys
    keyed = capture.Keys(cipher, hasher)  # type: ignore[arg-type]
    done = submit(world, tmp_path, {**family, "new_phone": "13900001234"}, keys=keyed)
    with Session(world.engine) as session:
        verdict = session.get(Verdict, done.verdict.id)
        assert verdict is not None and verdict.hardship_or_evasion == "not_met"
        assert (verdict.willingness, verdict.ability_per_month) == (None, None)
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "visit.verdict")
        ).one()
        assert event.payload["hardship_or_evasion"] == "not_met"
        visit = session.get(Visit, done.visit.id)
        assert visit is not None and "13900001234" not in str(visit.interview)
        case = session.get(Case, world.assigned_case)
        assert case is not None
        from doorstep.store.repositories import cases as case_repo

        phones = [
            p
            for p in case_repo.contact_points_of(session, case.customer_id)
            if p.source == "third_party" and p.channel == "phone"
        ]
        assert [p.status for p in phones] == ["unverified"]


def test_a_promise_above_ability_is_flagged_and_a_plan_request_becomes_a_task(
    world: World, tmp_path: Path
) -> None:
    above = answers(ability_per_month="400", promise_amount="800.00")
    with pytest.raises(InvalidAnswers) as refused:
        submit(world, tmp_path, above)
    assert [p.field for p in refused.value.problems] == ["promise_reason"]
    done = submit(world, tmp_path, {**above, "promise_reason": "年终奖下周发放"})
    with Session(world.engine) as session:
        visit = session.get(Visit, done.visit.id)
        assert visit is not None and "promise_above_ability" in visit.flags
    # the promise's next step opens no task; the plan request below does
    assert open_tasks(world.engine, world.assigned_case) == []


def test_each_next_step_opens_a_task_with_owner_due_and_escalation(
    world: World, tmp_path: Path
) -> None:
    plan = answers(outcome="plan", promise_amount="", promise_date="")
    done = submit(world, tmp_path, plan)
    assert done.verdict.next_step == "plan_offer"
    [task] = open_tasks(world.engine, world.assigned_case)
    today = (moment() + timedelta(minutes=30)).astimezone(rules().zone).date()
    assert (task.kind, task.due_on, task.verdict_id) == (
        "offer_prepare",
        today + timedelta(days=3),
        done.verdict.id,
    )
    with Session(world.engine) as session:
        owner = session.get(User, task.owner_id)
        assert owner is not None and owner.role == "manager"

    later = moment() + timedelta(days=5)
    with transaction(world.engine) as session:
        raised = tasks.escalate_overdue(session, today + timedelta(days=4), later)
        again = tasks.escalate_overdue(session, today + timedelta(days=5), later)
    assert [a.kind for a in raised] == ["task_overdue"] and again == []
    with transaction(world.engine) as session:
        manager = actor(session, "manager")
        rows = tasks.task_list(session, manager, today + timedelta(days=4))
        assert [(r.task.id, r.overdue) for r in rows] == [(task.id, True)]
        waiting = tasks.review_queue(session, manager, later, rules().zone)
        assert [(w.verdict.id, w.days_waiting) for w in waiting] == [(done.verdict.id, 5)]
        tasks.complete(session, manager, task.id, "方案已发出", later)
    assert open_tasks(world.engine, world.assigned_case) == []


def test_partly_kept_and_broken_promises_open_follow_ups(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys, then=four_promises)
    with transaction(engine) as session:
        judge_promises(session, date(2024, 6, 14), now=NOW, grace_days=3)
    follow_ups = [t for t in open_tasks(engine) if t.kind == "promise_follow_up"]
    assert sorted(t.case_id for t in follow_ups) == sorted(world.case_ids[1:3])
    assert {t.due_on for t in follow_ups} == {date(2024, 6, 16)}
