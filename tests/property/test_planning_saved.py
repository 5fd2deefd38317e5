"""Saved plans, whatever the day looks like: every saved plan passes an independent check
of its stored rows; taking a team away or adding a visit and planning again never saves
an infeasible plan; no stop falls in quiet hours, outside a booked slot, or is for a case
on hold. On SQLite and PostgreSQL (each example rolls back)."""

from __future__ import annotations

import math
from datetime import time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM
from doorstep.planning import AllowedHours, GreatCircleTravel, Location
from doorstep.services import visit_plans
from doorstep.services.conduct.personal_data import unseal_position
from doorstep.services.visit_plans import PlanConfig
from doorstep.store.models import Case, ContactPoint, Team, VisitPlan, VisitSlot
from doorstep.store.repositories import plans as repo
from tests.factories.book import TEST_CIPHER
from tests.integration.test_visit_plans import CITY, DAY, ITERATIONS, spread_world

pytestmark = pytest.mark.db
H = 3600
TRAVEL = GreatCircleTravel()


def saved_problems(session: Session, plan_id: int, cfg: PlanConfig) -> list[str]:
    """Re-verify the stored rows (not the solver's objects) in double precision."""
    plan = session.get(VisitPlan, plan_id)
    assert plan is not None
    found: list[str] = []
    stops = repo.stops(session, plan_id)
    cases = repo.cases_by_id(session, {s.case_id for s in stops})
    points = repo.points_by_id(session, {s.contact_point_id for s in stops if s.contact_point_id})
    teams = {t.id: t for t in repo.teams_of_city(session, plan.city)}
    routes = {r.team_id: r for r in repo.routes(session, plan_id)}
    if len({s.case_id for s in stops}) != len(stops):
        found.append("a case appears twice")
    midnight = cfg.midnight(plan.day)

    def sec(moment: object) -> float:
        assert moment is not None
        return (moment - midnight).total_seconds()  # type: ignore[operator]

    for team_id, team in teams.items():
        mine = [s for s in stops if s.team_id == team_id]
        if not mine:
            continue
        if len(mine) > team.max_visits:
            found.append(f"team {team_id}: {len(mine)} > {team.max_visits} visits")
        route = routes[team_id]
        base = (
            Location(team.base_lat, team.base_lng)
            if team.base_lat is not None and team.base_lng is not None
            else None
        )
        clock = sec(route.depart_at)
        if clock < team.shift_start_minute * 60 - 1e-6:
            found.append(f"team {team_id}: leaves before its shift")
        here = base
        for n, s in enumerate(sorted(mine, key=lambda s: s.seq or 0), 1):
            case = cases[s.case_id]
            point = points[s.contact_point_id or 0]
            there = Location(*(unseal_position(TEST_CIPHER, point.position) or (0.0, 0.0)))
            if s.seq != n:
                found.append(f"case {s.case_id}: seq {s.seq}, expected {n}")
            if case.hold_reason is not None:
                found.append(f"case {s.case_id}: planned while on hold")
            start, end = sec(s.start_at), sec(s.end_at)
            if here is not None:
                drive = math.ceil(TRAVEL.seconds(TRAVEL.metres(here, there)))
                if start < clock + drive - 1e-6:
                    found.append(f"case {s.case_id}: starts before the team can arrive")
            if not sec(s.window_start) - 1e-6 <= start <= sec(s.window_end) + 1e-6:
                found.append(f"case {s.case_id}: starts outside its window")
            if start < cfg.allowed.start or end > cfg.allowed.end:
                found.append(f"case {s.case_id}: in quiet hours ({start}-{end})")
            if abs(end - start - cfg.service_seconds(case)) > 1e-6:
                found.append(f"case {s.case_id}: wrong service time")
            for slot in session.scalars(
                select(VisitSlot).where(
                    VisitSlot.customer_id == case.customer_id,
                    VisitSlot.day == plan.day,
                    VisitSlot.cancelled_at.is_(None),
                )
            ):
                lo = slot.start.hour * H + slot.start.minute * 60
                hi = slot.end.hour * H + slot.end.minute * 60
                if start < lo or end > hi:
                    found.append(f"case {s.case_id}: outside the booked slot")
            clock, here = end, there
        if sec(route.return_at) > team.shift_end_minute * 60 + 1e-6:
            found.append(f"team {team_id}: back after its shift")
    return found


day_shape = st.fixed_dictionaries(
    {
        "holds": st.sets(st.integers(0, 8), max_size=3),
        "max_visits": st.lists(st.integers(0, 4), min_size=2, max_size=2),
        "shift_end": st.sampled_from([14 * 60, 18 * 60, 21 * 60]),
        "allowed": st.sampled_from([(8, 22), (9, 20), (10, 19)]),
        "slot": st.none() | st.tuples(st.integers(0, 8), st.integers(9, 19), st.integers(1, 3)),
        "work": st.none() | st.integers(0, 8),
        "seed": st.integers(0, 3),
    }
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=day_shape)
def test_saved_plans_are_feasible_whatever_the_day(
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
    keys: tuple[object, object],
    shape: dict[str, object],
) -> None:
    if not getattr(engine, "_planned_world", False):
        spread_world(engine, tmp_path_factory.mktemp("world"), keys)
        engine._planned_world = True  # type: ignore[attr-defined]
    allowed = shape["allowed"]
    assert isinstance(allowed, tuple)
    cfg = PlanConfig(
        cipher=TEST_CIPHER,
        allowed=AllowedHours(allowed[0] * H, allowed[1] * H),
        seconds=30,
        edit_seconds=30,
        iterations=ITERATIONS,
    )
    with Session(engine) as session:
        ready = list(
            session.scalars(
                select(Case).where(Case.city == CITY, Case.state == "ready").order_by(Case.id)
            )
        )
        for i in shape["holds"]:  # type: ignore[attr-defined]
            if i < len(ready):
                ready[i].hold_reason = "complaint"
        team_rows = repo.teams_of_city(session, CITY)
        for team, cap in zip(team_rows, shape["max_visits"], strict=False):  # type: ignore[call-overload]
            team.max_visits, team.shift_end_minute = cap, shape["shift_end"]
        if shape["slot"] is not None:
            who, hour, length = shape["slot"]  # type: ignore[misc]
            if who < len(ready):
                session.add(
                    VisitSlot(
                        customer_id=ready[who].customer_id,
                        day=DAY,
                        start=time(hour),
                        end=time(hour + length),
                    )
                )
        if shape["work"] is not None and shape["work"] < len(ready):  # type: ignore[operator]
            for point in session.scalars(
                select(ContactPoint).where(
                    ContactPoint.customer_id == ready[shape["work"]].customer_id  # type: ignore[index]
                )
            ):
                point.kind = "work"
        session.flush()

        first = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg, seed=shape["seed"])  # type: ignore[arg-type]
        assert saved_problems(session, first.id, cfg) == []
        held = {c.id for c in ready if c.hold_reason}
        assert not held & {s.case_id for s in repo.stops(session, first.id)}

        # Take a team away: the next plan is still feasible.
        gone = team_rows[0]
        gone.city = None
        session.flush()
        second = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg)
        assert saved_problems(session, second.id, cfg) == []
        assert all(s.team_id != gone.id for s in repo.stops(session, second.id))
        gone.city = CITY

        # Add a visit (a held case released): still feasible, and it is in the plan's rows.
        if held:
            back = next(c for c in ready if c.id in held)
            back.hold_reason = None
            session.flush()
            third = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg)
            assert saved_problems(session, third.id, cfg) == []
            assert back.id in {s.case_id for s in repo.stops(session, third.id)}
        session.rollback()


def test_the_checker_catches_a_broken_row(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """saved_problems can fail: a stop moved into quiet hours is reported."""
    spread_world(engine, tmp_path, keys)
    cfg = PlanConfig(seconds=30, iterations=ITERATIONS, cipher=TEST_CIPHER)
    with Session(engine) as session:
        plan = visit_plans.run_plan(session, SYSTEM, DAY, CITY, cfg)
        stop = next(s for s in repo.stops(session, plan.id) if s.team_id is not None)
        assert stop.start_at is not None and stop.end_at is not None
        stop.start_at -= timedelta(hours=12)
        stop.end_at -= timedelta(hours=12)
        assert any(
            "quiet hours" in p or "window" in p for p in saved_problems(session, plan.id, cfg)
        )
        team = session.get(Team, stop.team_id)
        assert team is not None
        session.rollback()
