"""What a person does about a customer's holds from a case: open and resolve a dispute,
see the customer's open holds, lift one a manager may lift (with a reason), and let a
case visited within the visit interval be planned. Each checks the role first (403),
then that the actor may see the case (404, so ids do not leak)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import HOLD_POLICIES, HoldReason
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.domain.rules import Pack
from doorstep.services.cases import disputes
from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.services.cases.lookup import get_case
from doorstep.services.conduct import decisions, holds
from doorstep.store.models import CustomerHold, RuleDecision
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import conduct as conduct_repo

LIFTED = "lifted"
"""The outcome of a customer hold a person lifted (not a dispute: that is resolved)."""


def lift_roles(hold_type: str) -> frozenset[str]:
    """Who may lift a customer hold of this type early: its conduct rule's roles; a
    no-visit-at-work wish, the managers (the customer withdrew it); others, nobody."""
    if hold_type == holds.NO_WORK_VISIT:
        return HOLD_POLICIES[HoldReason.OTHER].lift_roles
    known = {h.value for h in HoldReason}
    return HOLD_POLICIES[HoldReason(hold_type)].lift_roles if hold_type in known else frozenset()


def customer_holds(
    session: Session, actor: Actor, case_id: int, now: datetime
) -> list[CustomerHold]:
    """The open holds of the case's customer, oldest first."""
    case = get_case(session, actor, case_id, now)
    return conduct_repo.active_customer_holds(session, [case.customer_id], now)


def open_for_case(
    session: Session, actor: Actor, case_id: int, kind: DisputeKind, note: str, now: datetime
) -> CustomerHold:
    """A dispute of the case's customer (`disputes.open_dispute`)."""
    disputes.may_handle(actor)
    case = get_case(session, actor, case_id, now)
    return disputes.open_dispute(session, actor, case.customer_id, kind, note, now)


def resolve(
    session: Session,
    actor: Actor,
    hold_id: int,
    outcome: DisputeOutcome,
    note: str,
    now: datetime,
) -> CustomerHold:
    """Answer a dispute of a customer one of whose cases the actor may see."""
    disputes.may_handle(actor)
    _visible_hold(session, actor, hold_id, now)
    return disputes.resolve_dispute(session, actor, hold_id, outcome, note, now)


def lift(
    session: Session, actor: Actor, case_id: int, hold_id: int, reason: str, now: datetime
) -> CustomerHold:
    """Lift an open hold of the case's customer, if the actor's role may lift its type."""
    disputes.may_handle(actor)
    case = get_case(session, actor, case_id, now)
    live = conduct_repo.active_customer_holds(session, [case.customer_id], now)
    hold = next((h for h in live if h.id == hold_id), None)
    if hold is None:
        raise NotFound(f"no open hold {hold_id} of this customer",
                       message_zh=f"该客户没有未解除的暂停 {hold_id}")  # fmt: skip
    if hold.type == disputes.DISPUTE:
        raise InvalidValue("a dispute is resolved with its outcome, not lifted",
                           message_zh="争议须以处理结果答复，不能直接解除")  # fmt: skip
    if actor.role.value not in lift_roles(hold.type):
        raise Forbidden(f"your role may not lift a {hold.type} hold",
                        message_zh=f"您的角色无权解除 {hold.type} 暂停")  # fmt: skip
    if len(reason.strip()) < 4:
        raise InvalidValue("reason: say why the hold ends", message_zh="reason：请说明解除原因")
    holds.resolve_customer_hold(session, actor, hold, LIFTED, reason.strip(), now)
    return hold


def override_interval(
    session: Session, actor: Actor, case_id: int, reason: str, *, pack: Pack, now: datetime
) -> RuleDecision:
    """A manager lets a case of theirs visited within the interval be planned."""
    if actor.role not in decisions.OVERRIDE_ROLES:
        raise Forbidden("only a manager may override the visit interval",
                        message_zh="只有经理可以越过外访间隔")  # fmt: skip
    get_case(session, actor, case_id, now)
    return decisions.override_visit_interval(session, actor, case_id, reason, pack=pack, now=now)


def _visible_hold(session: Session, actor: Actor, hold_id: int, now: datetime) -> None:
    hold = session.get(CustomerHold, hold_id) if 0 < hold_id <= case_repo.MAX_ID else None
    for case_id in case_repo.case_ids_of(session, hold.customer_id) if hold else []:
        try:
            get_case(session, actor, case_id, now)
            return
        except NotFound:
            continue
    raise NotFound(f"no open dispute {hold_id}", message_zh=f"没有未结的争议 {hold_id}")


@dataclass(frozen=True)
class HeldRow:
    hold: CustomerHold
    may_lift: bool  # the actor's role may lift it (a dispute is resolved instead)


@dataclass(frozen=True)
class Desk:
    """What the case page shows of the customer's holds and the visit interval."""

    holds: list[HeldRow]
    may_handle: bool  # may open and resolve disputes
    may_override: bool  # a manager, and the case was visited within the interval


def desk(session: Session, actor: Actor, case_id: int, pack: Pack, now: datetime) -> Desk:
    """The case page's panel: the customer's open holds, and what the actor may do."""
    rows = [
        HeldRow(h, h.type != disputes.DISPUTE and actor.role.value in lift_roles(h.type))
        for h in customer_holds(session, actor, case_id, now)
    ]
    manager = actor.role in decisions.OVERRIDE_ROLES
    warned = manager and decisions.interval_warned(
        decisions.check_plan_visit(session, case_id, now, now, 2, pack=pack, now=now), pack
    )
    return Desk(rows, actor.can(Permission.CHANGE_CASES), warned)
