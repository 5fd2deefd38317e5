"""Who may work on which plan, and at which version.

Every edit names the plan version it was made on: a stale version is a `Conflict`, and the
row's version column catches two writers racing past that check (`touch`)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Conflict, Forbidden, IllegalTransition, NotFound
from doorstep.store.models import VisitPlan
from doorstep.store.repositories import plans as repo


def may_plan(actor: Actor) -> None:
    if not actor.can(Permission.PLAN_VISITS):
        raise Forbidden("your role cannot plan visits", message_zh="您的角色无权安排外访")


def require(actor: Actor, city: str) -> None:
    """The actor may plan visits in ``city``."""
    may_plan(actor)
    if actor.regions is not None and city not in actor.regions:
        raise Forbidden(f"{city} is not one of your regions", message_zh=f"{city} 不在您的管辖区域")


def get_plan(session: Session, actor: Actor, plan_id: int) -> VisitPlan:
    """A plan the actor may work on; 404 for one outside their regions (ids do not leak)."""
    may_plan(actor)
    plan = repo.get_plan(session, plan_id) if 0 < plan_id < 2**31 else None
    if plan is None or (actor.regions is not None and plan.city not in actor.regions):
        raise NotFound(f"no visit plan {plan_id}", message_zh=f"没有外访计划 {plan_id}")
    return plan


def expect(plan: VisitPlan, version: int | None, *, state: str | None = "draft") -> None:
    """The plan is still at ``version`` (None: any) and in ``state`` (None: any)."""
    if version is not None and plan.version != version:
        raise _stale()
    if state is not None and plan.state != state:
        raise IllegalTransition(
            f"the plan is {plan.state}, not {state}",
            message_zh=f"外访计划状态为 {plan.state}，不是 {state}",
        )


def open_plan(
    session: Session, actor: Actor, plan_id: int, version: int | None, state: str | None
) -> VisitPlan:
    """The plan to change: one the actor may plan, at ``version``, in ``state``."""
    plan = get_plan(session, actor, plan_id)
    require(actor, plan.city)
    expect(plan, version, state=state)
    return plan


def touch(session: Session, plan: VisitPlan) -> None:
    """Write the plan row (bumping its version); a concurrent writer gets a Conflict."""
    try:
        repo.save_plan(session, plan)
    except StaleDataError:
        raise _stale() from None


def _stale() -> Conflict:
    return Conflict(
        "the plan was changed by someone else: reload it",
        message_zh="外访计划已被他人修改，请刷新",
    )
