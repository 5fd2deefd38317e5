"""Edit a draft: move a visit to another team, lock it on its team, re-optimise the rest.

A locked stop stays on its team (the visit gets a skill only that team has, and is
required); started and finished stops stay as they are; the rest is planned again. Every
edit names the plan version it was made on (access.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import IllegalTransition, InvalidValue, NotFound
from doorstep.services.conduct import audit
from doorstep.services.visit_plans.access import open_plan, touch
from doorstep.services.visit_plans.collect import collect
from doorstep.services.visit_plans.config import PlanConfig
from doorstep.services.visit_plans.draft import budget_of, summary, write
from doorstep.services.visit_plans.stops import CANCELLED, FIXED, PLANNED, fixed_of
from doorstep.store.models import PlanStop, VisitPlan
from doorstep.store.repositories import plans as repo


def reoptimise(
    session: Session,
    actor: Actor,
    plan_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    seconds: float | None = None,
) -> VisitPlan:
    """Plan a draft's cases again; locked stops stay on their team, fixed stops as they are."""
    row = open_plan(session, actor, plan_id, version, "draft")
    return _reoptimise(
        session, actor, row, cfg, budget_of(seconds, row.seconds or cfg.seconds, cfg.max_seconds)
    )


def move_stop(
    session: Session,
    actor: Actor,
    plan_id: int,
    stop_id: int,
    team_id: int,
    cfg: PlanConfig,
    *,
    version: int | None,
    seconds: float | None = None,
) -> VisitPlan:
    """Give a visit to another team (locked there) and re-optimise the rest."""
    row = open_plan(session, actor, plan_id, version, "draft")
    stop = _stop_of(session, row, stop_id)
    if team_id not in {t.id for t in repo.teams_of_city(session, row.city)}:
        raise InvalidValue(
            f"team_id {team_id} is not a team of {row.city}",
            message_zh=f"外访组 {team_id} 不属于 {row.city}",
        )
    before = stop.team_id
    stop.team_id, stop.locked, stop.status = team_id, True, PLANNED
    session.flush()
    audit.record(
        session,
        actor,
        "plan.move_stop",
        "visit_plan",
        row.id,
        {"case_id": stop.case_id, "from_team": before, "to_team": team_id},
    )
    return _reoptimise(
        session, actor, row, cfg, budget_of(seconds, cfg.edit_seconds, cfg.max_seconds)
    )


def lock_stop(
    session: Session,
    actor: Actor,
    plan_id: int,
    stop_id: int,
    *,
    locked: bool,
    version: int | None,
) -> VisitPlan:
    """Keep a planned visit on its team when the plan is re-optimised (or let it go)."""
    row = open_plan(session, actor, plan_id, version, "draft")
    stop = _stop_of(session, row, stop_id)
    if locked and stop.team_id is None:
        raise IllegalTransition(
            "a dropped visit has no team to lock it to: move it to a team",
            message_zh="未安排的外访没有可锁定的外访组，请先移动到某个组",
        )
    stop.locked = locked
    touch(session, row)
    audit.record(
        session,
        actor,
        "plan.lock_stop" if locked else "plan.unlock_stop",
        "visit_plan",
        row.id,
        {"case_id": stop.case_id, "team_id": stop.team_id},
    )
    return row


def _reoptimise(
    session: Session, actor: Actor, row: VisitPlan, cfg: PlanConfig, seconds: float
) -> VisitPlan:
    rows = repo.stops(session, row.id)
    fixed = [fixed_of(s) for s in rows if s.status in FIXED and s.team_id is not None]
    fixed_ids = {f.case_id for f in fixed}
    wanted = {s.case_id for s in rows if s.case_id not in fixed_ids and s.status != CANCELLED}
    locks = {
        s.case_id: s.team_id
        for s in rows
        if s.locked and s.team_id is not None and s.status == PLANNED
    }
    starts: Mapping[str, Any] = dict((row.settings or {}).get("starts") or {})  # type: ignore[call-overload]
    out = collect(
        session,
        cfg,
        row.day,
        row.city,
        also=wanted,
        locks=locks,
        starts=starts,
        fixed=fixed,
        seconds=seconds,
        seed=row.seed,
        wanted=wanted,
    )
    write(session, cfg, row, out)
    audit.record(session, actor, "plan.reoptimise", "visit_plan", row.id, summary(row, out))
    return row


def _stop_of(session: Session, row: VisitPlan, stop_id: int) -> PlanStop:
    """A stop of the plan that may still change."""
    stop = session.get(PlanStop, stop_id) if 0 < stop_id < 2**31 else None
    if stop is None or stop.plan_id != row.id:
        raise NotFound(
            f"no stop {stop_id} in plan {row.id}", message_zh=f"计划 {row.id} 中没有站点 {stop_id}"
        )
    if stop.status in FIXED:
        raise IllegalTransition(
            "a started or finished visit cannot be changed",
            message_zh="已开始或已完成的外访不能修改",
        )
    return stop
