"""Planning and the conduct rules (SQLite and PostgreSQL): every routed stop leaves its
rule decision, and a customer visited within the visit interval (a warning rule) is not
routed unless a manager overrode the interval with a reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import Forbidden
from doorstep.services import visit_plans
from doorstep.services.conduct import rules as conduct
from doorstep.services.visit_plans import PlanConfig
from doorstep.store.db import transaction
from doorstep.store.models import Case, RuleDecision
from doorstep.store.repositories import plans as repo
from tests.factories.book import TEST_CIPHER
from tests.factories.people import actor
from tests.factories.plans import spread_over_beijing
from tests.factories.world import build_world

pytestmark = pytest.mark.db
CITY = "北京市"
PACK = Settings().rules_pack
CFG = PlanConfig(seconds=30, edit_seconds=30, iterations=500, pack=PACK, cipher=TEST_CIPHER)


def ready_cases(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> list[int]:
    build_world(engine, tmp_path, keys, customers=12, then=spread_over_beijing)
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(Case.id).where(Case.city == CITY, Case.state == "ready").order_by(Case.id)
            )
        )


def test_planning_records_a_decision_per_stop_and_keeps_the_interval(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    ready = ready_cases(engine, tmp_path, keys)
    now = CFG.clock.now()
    day = now.astimezone(CFG.zone).date() + timedelta(days=1)
    with transaction(engine) as session:
        recent = session.get(Case, ready[0])
        assert recent is not None
        recent.visited_on = day - timedelta(days=3)  # within the 7-day interval
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, day, CITY, CFG)
        stops = {s.case_id: s for s in repo.stops(session, plan.id)}
        assert stops[ready[0]].team_id is None
        assert stops[ready[0]].drop_reason == "visited within the interval"
        routed = {s.case_id for s in stops.values() if s.team_id is not None}
        assert routed
        kept = session.scalars(select(RuleDecision).where(RuleDecision.action == "plan_visit"))
        assert {d.case_id for d in kept} == routed  # one decision for every routed stop
    with transaction(engine) as session:
        with pytest.raises(Forbidden):
            conduct.override_visit_interval(session, actor(engine, "verifier"), ready[0],
                                            "asked again", pack=PACK, now=now)  # fmt: skip
        conduct.override_visit_interval(
            session, actor(engine, "manager"), ready[0], "borrower asked for a second visit",
            pack=PACK, now=now,
        )  # fmt: skip
    with transaction(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, day, CITY, CFG)
        stop = next(s for s in repo.stops(session, plan.id) if s.case_id == ready[0])
        assert stop.drop_reason != "visited within the interval"
