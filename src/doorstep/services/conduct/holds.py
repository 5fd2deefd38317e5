"""Holds as the conduct rules keep them: one `case_holds` row per hold, ending by its
type's end rule (`domain.case.HOLD_POLICIES`) and lifted early only by the roles that
rule names. `cases.hold_reason` mirrors the active hold: `services.cases.apply` writes
both, through `start_hold` and `lift_hold` here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import HOLD_POLICIES, HoldReason
from doorstep.domain.errors import Forbidden
from doorstep.store.models import Case, CaseHold
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import conduct as repo

END_RULE = "end rule"
"""Who lifted a hold its end rule ended (`lifted_by`)."""


def hold_types(session: Session, case_id: int, now: datetime) -> tuple[str, ...]:
    """The types of the case's holds active at `now`, oldest first."""
    return tuple(h.type for h in repo.active_holds(session, case_id, now))


def held_case_ids(session: Session, case_ids: list[int], now: datetime) -> set[int]:
    """The cases among `case_ids` with an active hold (a plan must leave them out)."""
    kept = {c for c in case_ids if repo.active_holds(session, c, now)}
    return kept | case_repo.with_hold_reason(session, case_ids)


def start_hold(
    session: Session, actor: Actor, case: Case, why: HoldReason, note: str | None, now: datetime
) -> CaseHold:
    """A case_holds row for a new hold, ending by its type's end rule."""
    policy = HOLD_POLICIES[why]
    hold = CaseHold(
        case_id=case.id,
        type=why.value,
        started_at=now,
        ends_at=now + timedelta(days=policy.days) if policy.days else None,
        note=note,
        started_by=actor.username,
    )
    session.add(hold)
    return hold


def lift_hold(
    session: Session, actor: Actor, case: Case, reason: str, now: datetime
) -> list[CaseHold]:
    """Lift every active hold of the case; refused (before any change) unless the actor's
    role may lift each."""
    active = repo.active_holds(session, case.id, now)
    for hold in active:
        known = hold.type in {h.value for h in HoldReason}
        policy = HOLD_POLICIES[HoldReason(hold.type)] if known else None
        if policy is not None and actor.role.value not in policy.lift_roles:
            raise Forbidden(
                f"a {hold.type} hold may be lifted only by {', '.join(sorted(policy.lift_roles))}"
                f" ({policy.end_rule_en})",
                message_zh=f"{hold.type} 暂停只能由 {'、'.join(sorted(policy.lift_roles))} 解除"
                f"（{policy.end_rule_zh}）",
            )
    for hold in active:
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor.username, reason
    return active


def end_expired(session: Session, now: datetime) -> list[CaseHold]:
    """Mark the holds their end rule has ended by `now` (e.g. a 60-day breathing space) as
    lifted by it, at their end; the cases they held are for the caller to release."""
    ended = repo.expired_holds(session, now)
    for hold in ended:
        hold.lifted_at, hold.lifted_by = hold.ends_at, END_RULE
        hold.lift_reason = HOLD_POLICIES[HoldReason(hold.type)].end_rule_en
    session.flush()
    return ended
