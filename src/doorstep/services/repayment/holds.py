"""Every change the repayment services make to a case's state or hold, one small function
each, so the case's single writer can take them over in one place. Today they go through
`services.cases.act`, which checks the transition, writes the hold row and the audit
event."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import HoldReason
from doorstep.services import cases
from doorstep.store.models import Case

PLAN_HOLD_NOTE = "repayment plan active"


def hold_for_plan(session: Session, actor: Actor, case: Case) -> None:
    """An accepted repayment plan holds visits while it runs."""
    cases.act(
        session, actor, case.id, "hold", hold_reason=HoldReason.OTHER.value, reason=PLAN_HOLD_NOTE
    )


def release_for_broken_plan(session: Session, actor: Actor, case: Case, dpd: int) -> None:
    """A broken plan lifts the hold it (or a hardship report) put on visits."""
    cases.act(session, actor, case.id, "release", reason=f"repayment plan broken ({dpd} days late)")


def ready_after_broken_plan(session: Session, actor: Actor, case: Case) -> None:
    """A new case whose plan broke is ready for a visit."""
    cases.act(session, actor, case.id, "mark_ready", reason="repayment plan broken")


def hold_for_borrower(
    session: Session, actor: Actor, case: Case, why: HoldReason, note: str
) -> None:
    """Hold the case's visits for what the borrower told us; a case held already keeps
    its hold (a complaint replaces any other hold, since it must outlast them)."""
    if case.hold_reason and why is HoldReason.COMPLAINT and case.hold_reason != why.value:
        cases.act(session, actor, case.id, "release", reason=f"replaced by {why.value}")
    if not case.hold_reason:
        cases.act(session, actor, case.id, "hold", hold_reason=why.value, reason=note)


def end_hardship_hold(session: Session, actor: Actor, case: Case, until: date) -> None:
    """The hardship period the borrower reported is over: visits may resume."""
    cases.act(session, actor, case.id, "release", reason=f"hardship hold ended {until}")
