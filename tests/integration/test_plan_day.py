"""Planning a city's day from the ready cases: every case is planned or dropped with a
reason, the plan passes the independent check, and only case managers may plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.planning import check
from doorstep.services.cases import Forbidden
from doorstep.services.plan_day import plan_city_day
from doorstep.store.db import transaction
from doorstep.store.models import Case
from tests.factories.world import AS_OF, build_world

pytestmark = pytest.mark.db


def test_plan_covers_every_ready_case(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        ready = set(
            session.scalars(select(Case.id).where(Case.state == "ready", Case.city == "北京市"))
        )
        result = plan_city_day(session, SYSTEM, AS_OF, "北京市", seconds=1, visits_per_team=2)
    assert ready, "the world should have ready cases in Beijing"
    planned = {int(s.visit_id) for r in result.plan.routes for s in r.stops}
    dropped = {int(d.visit_id) for d in result.plan.dropped}
    assert planned | dropped | set(result.unlocated) == ready
    assert not planned & dropped
    assert all(len(r.stops) <= 2 for r in result.plan.routes)
    check(result.plan, result.request)
    for route in result.plan.routes:
        for stop in route.stops:
            assert stop.start >= 8 * 3600 and stop.end <= 22 * 3600  # allowed hours


def test_verifiers_cannot_plan(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> None:
    build_world(engine, tmp_path, keys)
    with transaction(engine) as session, pytest.raises(Forbidden):
        plan_city_day(session, Actor("v", Role.VERIFIER), AS_OF, "北京市", seconds=1)
