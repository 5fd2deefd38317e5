"""Visit plans in the database: run -> draft, move/lock -> re-optimise, publish -> cases
scheduled and assigned, supersede, replan during the day, optimistic locking."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.errors import Conflict, Forbidden, IllegalTransition, PlanInfeasible
from doorstep.services import visit_plans
from doorstep.services.people import users
from doorstep.services.visit_plans import PlanConfig
from doorstep.services.visit_plans.access import touch
from doorstep.store.db import transaction
from doorstep.store.models import (
    Assignment,
    AuditEvent,
    Case,
    ContactPoint,
    PlanStop,
    Team,
    User,
    VisitPlan,
    VisitSlot,
)
from doorstep.store.repositories import plans as repo
from tests.factories.book import TEST_CIPHER
from tests.factories.plans import spread_over_beijing
from tests.factories.world import build_world

pytestmark = pytest.mark.db
CITY = "北京市"
ITERATIONS = 500
"""The searches stop by iterations (the same plan on any machine, and soon); their seconds
only bound a run on a starved machine."""
CFG = PlanConfig(seconds=30, edit_seconds=30, iterations=ITERATIONS, cipher=TEST_CIPHER)
DAY = datetime.now(CFG.zone).date() + timedelta(days=1)


def spread_world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> list[int]:
    """The small world with Beijing addresses spread over the city and a second team
    (tests/factories/plans.py); the ready Beijing cases."""
    build_world(engine, tmp_path, keys, customers=12, then=spread_over_beijing)
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(Case.id).where(Case.city == CITY, Case.state == "ready").order_by(Case.id)
            )
        )


def team_ids(session: Session) -> list[int]:
    return [t.id for t in repo.teams_of_city(session, CITY)]


def test_run_saves_a_checked_draft(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    ready = spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        plan_id = plan.id
    with transaction(engine) as session:
        plan = session.get(VisitPlan, plan_id)
        assert plan is not None and plan.state == "draft" and plan.version >= 1
        stops = repo.stops(session, plan_id)
        assert {s.case_id for s in stops} == set(ready)  # every ready case: planned or dropped
        routed = [s for s in stops if s.team_id is not None]
        assert routed and len(routed) <= 4  # two teams of two visits
        for team_id in {s.team_id for s in routed}:
            mine = [s for s in routed if s.team_id == team_id]
            assert [s.seq for s in mine] == list(range(1, len(mine) + 1))
            assert all(
                s.start_at and s.end_at and s.arrive_at and s.arrive_at <= s.start_at for s in mine
            )
            for s in mine:
                local = s.start_at.astimezone(CFG.zone) if s.start_at else None
                assert local is not None and time(8) <= local.time() <= time(21, 30)
        assert all(s.drop_reason == "no capacity" for s in stops if s.team_id is None)
        assert len(repo.routes(session, plan_id)) == len({s.team_id for s in routed})
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.run"))
        # nothing is published yet: the cases are still ready
        assert session.get(Case, routed[0].case_id).state == "ready"  # type: ignore[union-attr]


def lock_then_reoptimise(engine: Engine, plan_id: int, stop_id: int) -> None:
    with transaction(engine) as session:
        plan = session.get(VisitPlan, plan_id)
        assert plan is not None
        visit_plans.lock_stop(session, SYSTEM, plan_id, stop_id, locked=True, version=plan.version)
        visit_plans.reoptimise(session, SYSTEM, plan_id, CFG, version=plan.version)


def test_infeasible_plan_saves_nothing(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        plan_id = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG).id
    with transaction(engine) as session:
        stop = next(s for s in repo.stops(session, plan_id) if s.team_id is not None)
        team = session.get(Team, stop.team_id)
        assert team is not None
        team.shift_end_minute = team.shift_start_minute + 1  # no time for any visit
    with pytest.raises(PlanInfeasible):
        lock_then_reoptimise(engine, plan_id, stop.id)
    with transaction(engine) as session:
        assert not session.get(PlanStop, stop.id).locked  # type: ignore[union-attr]


def test_move_lock_reoptimise_keeps_the_stop_on_its_team(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        stop = next(s for s in repo.stops(session, plan.id) if s.team_id is not None)
        other = next(t for t in team_ids(session) if t != stop.team_id)
        moved_case, version = stop.case_id, plan.version
        visit_plans.move_stop(session, SYSTEM, plan.id, stop.id, other, CFG, version=version)
        assert plan.version > version
        for _ in range(2):  # re-optimising keeps the locked stop on its new team
            visit_plans.reoptimise(session, SYSTEM, plan.id, CFG, version=plan.version, seconds=30)
            mine = next(s for s in repo.stops(session, plan.id) if s.case_id == moved_case)
            assert mine.team_id == other and mine.locked
        with pytest.raises(Conflict):  # an edit made on an old version
            visit_plans.reoptimise(session, SYSTEM, plan.id, CFG, version=version)


def test_second_writer_gets_a_conflict(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        plan_id, version = plan.id, plan.version
        stop_id = next(s.id for s in repo.stops(session, plan.id) if s.team_id is not None)
    # Two managers load version `version`; the first saves, the second must not overwrite.
    with transaction(engine) as session:
        visit_plans.lock_stop(session, SYSTEM, plan_id, stop_id, locked=True, version=version)
    with pytest.raises(Conflict), transaction(engine) as session:
        visit_plans.lock_stop(session, SYSTEM, plan_id, stop_id, locked=False, version=version)
    # ... and the race past the version check is caught by the row's version column.
    with Session(engine) as first, Session(engine) as second:
        a, b = first.get(VisitPlan, plan_id), second.get(VisitPlan, plan_id)
        assert a is not None and b is not None
        visit_plans.lock_stop(first, SYSTEM, plan_id, stop_id, locked=False, version=a.version)
        first.commit()
        with pytest.raises(Conflict):
            touch(second, b)
        second.rollback()


def test_publish_schedules_assigns_and_supersedes(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        first = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        visit_plans.publish(
            session, SYSTEM, first.id, CFG, version=first.version, now=datetime.now(UTC)
        )
        routed = {(s.case_id, s.team_id) for s in repo.stops(session, first.id) if s.team_id}
        first_id = first.id
    with transaction(engine) as session:
        assert session.get(VisitPlan, first_id).state == "published"  # type: ignore[union-attr]
        for case_id, team_id in routed:
            assert session.get(Case, case_id).state == "scheduled"  # type: ignore[union-attr]
            live = session.scalars(
                select(Assignment).where(
                    Assignment.case_id == case_id, Assignment.revoked_at.is_(None)
                )
            ).all()
            assert [a.team_id for a in live if a.ends_at == CFG.day_end(DAY)] == [team_id]
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "case.schedule")), (
            "scheduling goes through the audited case actions"
        )
        # the verifier of the team sees the case (live assignment)
        member = session.scalar(select(User).where(User.username == "verifier"))
        assert member is not None
        actor = users.actor_for(session, member)
        mine = [c for c, t in routed if t in actor.team_ids]
        for case_id in mine:
            assert repo.team_stops(session, next(iter(actor.team_ids)), DAY)
            from doorstep.services.cases import get_case

            assert get_case(session, actor, case_id).id == case_id

    # A second plan without one of the cases supersedes the first and unschedules it.
    gone = next(iter(routed))[0]
    with transaction(engine) as session:
        session.execute(update(Case).where(Case.id == gone).values(hold_reason="complaint"))
    with transaction(engine) as session:
        second = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        # scheduled cases are not 'ready': the new plan plans what is ready now
        visit_plans.publish(
            session, SYSTEM, second.id, CFG, version=second.version, now=datetime.now(UTC)
        )
        second_id = second.id
    with transaction(engine) as session:
        assert session.get(VisitPlan, first_id).state == "superseded"  # type: ignore[union-attr]
        assert session.get(VisitPlan, second_id).state == "published"  # type: ignore[union-attr]
        new_cases = {s.case_id for s in repo.stops(session, second_id) if s.team_id}
        for case_id, _ in routed:
            if case_id not in new_cases and case_id != gone:
                assert session.get(Case, case_id).state == "ready"  # type: ignore[union-attr]
        old_live = session.scalars(
            select(Assignment).where(
                Assignment.case_id.in_([c for c, _ in routed if c not in new_cases]),
                Assignment.revoked_at.is_(None),
                Assignment.ends_at == CFG.day_end(DAY),
            )
        ).all()
        assert old_live == []
        with pytest.raises(IllegalTransition):  # published: no more edits
            visit_plans.reoptimise(session, SYSTEM, second_id, CFG, version=None)


def test_replan_keeps_finished_stops_and_starts_where_the_team_is(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        visit_plans.publish(
            session, SYSTEM, plan.id, CFG, version=plan.version, now=datetime.now(UTC)
        )
        stops = [s for s in repo.stops(session, plan.id) if s.team_id is not None]
        first = min(stops, key=lambda s: s.start_at or datetime.max.replace(tzinfo=UTC))
        assert first.end_at is not None
        now = first.end_at + timedelta(minutes=5)  # the first visit is over
        new = visit_plans.replan(session, SYSTEM, plan.id, CFG, now=now, seconds=30)
        new_stops = repo.stops(session, new.id)
        kept = next(s for s in new_stops if s.case_id == first.case_id)
        assert kept.status == "done" and kept.team_id == first.team_id and kept.seq == 1
        assert kept.start_at == first.start_at
        for s in new_stops:
            if s.team_id is not None and s.status == "planned":
                assert s.start_at is not None and s.start_at >= now
                if s.team_id == first.team_id:
                    assert s.seq is not None and s.seq > 1
        visit_plans.publish(session, SYSTEM, new.id, CFG, version=new.version, now=now)
        assert session.get(VisitPlan, plan.id).state == "superseded"  # type: ignore[union-attr]


def test_booked_slot_and_work_address_bound_the_visit(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    ready = spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        booked, at_work = (session.get(Case, i) for i in ready[:2])
        assert booked is not None and at_work is not None
        session.add(
            VisitSlot(customer_id=booked.customer_id, day=DAY, start=time(19), end=time(21))
        )
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == at_work.customer_id)
        ):
            if point.channel == "address":
                point.kind = "work"
        for team in session.scalars(select(Team)):
            team.max_visits, team.shift_end_minute = 10, 22 * 60
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        by_case = {s.case_id: s for s in repo.stops(session, plan.id)}
        slot, work = by_case[ready[0]], by_case[ready[1]]
        assert slot.start_at is not None and work.start_at is not None and work.end_at
        assert time(19) <= slot.start_at.astimezone(CFG.zone).time()
        assert slot.end_at is not None and slot.end_at.astimezone(CFG.zone).time() <= time(21)
        assert time(9) <= work.start_at.astimezone(CFG.zone).time()
        assert work.end_at.astimezone(CFG.zone).time() <= time(18)


def test_on_hold_cases_are_not_planned_and_only_planners_plan(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    ready = spread_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        session.execute(update(Case).where(Case.id == ready[0]).values(hold_reason="dispute"))
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, CFG)
        assert ready[0] not in {s.case_id for s in repo.stops(session, plan.id)}
        with pytest.raises(Forbidden):
            visit_plans.run_plan(session, Actor("v", Role.VERIFIER), DAY, CITY, CFG)
        with pytest.raises(Forbidden):
            visit_plans.run_plan(
                session, Actor("m", Role.MANAGER, regions=frozenset({"上海市"})), DAY, CITY, CFG
            )


def test_settings_are_parsed_with_clear_errors() -> None:
    from doorstep.config import Settings
    from doorstep.domain.errors import InvalidValue

    cfg = PlanConfig.from_settings(
        Settings(plan_allowed_hours="09:00-20:00", plan_service_minutes="default:20,M7+:45")
    )
    assert (cfg.allowed.start, cfg.allowed.end) == (9 * 3600, 20 * 3600)
    assert cfg.service_seconds(Case(bucket="M7+", skip_trace=False)) == 45 * 60
    assert cfg.service_seconds(Case(bucket="M1", skip_trace=False)) == 20 * 60
    with pytest.raises(InvalidValue, match="plan_allowed_hours"):
        PlanConfig.from_settings(Settings(plan_allowed_hours="22:00-08:00"))
    with pytest.raises(InvalidValue, match="plan_service_minutes"):
        PlanConfig.from_settings(Settings(plan_service_minutes="M1:zero"))


def test_conduct_rules_quiet_hours_and_holds(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """With the rule pack, its quiet hours bound the visits even when the setting and the
    shifts are wider, and a hold kept by the rules (not on the case row) excludes a case."""
    from doorstep.config import Settings
    from doorstep.domain.case import HoldReason
    from doorstep.planning import AllowedHours
    from doorstep.services.conduct import rules

    ready = spread_world(engine, tmp_path, keys)
    cfg = PlanConfig(
        cipher=TEST_CIPHER,
        allowed=AllowedHours(5 * 3600, 24 * 3600),
        seconds=30,
        iterations=ITERATIONS,
        pack=Settings().rules_pack,
    )
    with transaction(engine) as session:
        for team in session.scalars(select(Team)):
            team.shift_start_minute, team.shift_end_minute, team.max_visits = 5 * 60, 24 * 60, 6
        held = session.get(Case, ready[0])
        assert held is not None
        note = "borrower disputes the debt"
        rules.start_hold(session, SYSTEM, held, HoldReason.DISPUTE, note, datetime.now(UTC))
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg)
        stops = repo.stops(session, plan.id)
        assert ready[0] not in {s.case_id for s in stops}
        routed = [s for s in stops if s.team_id is not None]
        assert routed
        for s in routed:
            assert s.start_at is not None and s.end_at is not None
            assert s.start_at.astimezone(CFG.zone).time() >= time(8)
            assert s.end_at.astimezone(CFG.zone) <= datetime.combine(DAY, time(22), CFG.zone)


def test_two_workers_plan_a_checked_draft(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    ready = spread_world(engine, tmp_path, keys)
    cfg = PlanConfig(seconds=30, workers=2, iterations=ITERATIONS, cipher=TEST_CIPHER)
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg, seed=5)
        stops = repo.stops(session, plan.id)
        assert {s.case_id for s in stops} == set(ready)
        assert [s for s in stops if s.team_id is not None]


def test_the_standing_plan_of_a_city_and_day(engine: Engine) -> None:
    """`plan_for` / `cities_planned`: a draft or published plan stands for its city's day
    (the newest when there are several), a superseded one does not."""

    def plan(city: str, day: date, state: str) -> VisitPlan:
        row = VisitPlan(city=city, day=day, state=state, seconds=1, cost=0, distance_m=0)
        session.add(row)
        session.flush()
        return row

    with transaction(engine) as session:
        assert repo.plan_for(session, CITY, DAY) is None
        assert repo.cities_planned(session, DAY) == set()
        plan(CITY, DAY, "superseded")
        plan("上海市", DAY + timedelta(days=1), "draft")
        assert repo.plan_for(session, CITY, DAY) is None
        published = plan(CITY, DAY, "published")
        assert repo.plan_for(session, CITY, DAY) is published
        newer = plan(CITY, DAY, "draft")
        assert repo.plan_for(session, CITY, DAY) is newer
        assert repo.cities_planned(session, DAY) == {CITY}
        assert repo.cities_planned(session, DAY + timedelta(days=1)) == {"上海市"}
