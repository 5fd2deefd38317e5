"""Every change the repayment services make to a case's state or hold, one small function
each, all through the cases package's one writer (`cases.apply`), which checks the
transition, writes the hold row and the audit event. A plan's own hold and its end act as
`Caller.REPAYMENT`; what a borrower tells us (a complaint, hardship) is a conduct hold,
`Caller.CONDUCT`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import Caller, HoldReason
from doorstep.services import cases
from doorstep.store.models import Case

PLAN_HOLD_NOTE = "repayment plan active"


def hold_for_plan(session: Session, actor: Actor, case: Case, now: datetime) -> None:
    """An accepted repayment plan holds visits while it runs."""
    cases.apply(
        session, actor, case, "hold", by=Caller.REPAYMENT,
        hold_reason=HoldReason.OTHER.value, reason=PLAN_HOLD_NOTE, now=now,
    )  # fmt: skip


def release_for_broken_plan(
    session: Session, actor: Actor, case: Case, dpd: int, now: datetime
) -> None:
    """A broken plan lifts the hold it (or a hardship report) put on visits."""
    why = f"repayment plan broken ({dpd} days late)"
    cases.apply(session, actor, case, "release", by=Caller.REPAYMENT, reason=why, now=now)


def ready_after_broken_plan(session: Session, actor: Actor, case: Case) -> None:
    """A new case whose plan broke is ready for a visit."""
    cases.apply(
        session, actor, case, "mark_ready", by=Caller.REPAYMENT, reason="repayment plan broken"
    )


def hold_for_borrower(
    session: Session, actor: Actor, case: Case, why: HoldReason, note: str, now: datetime
) -> None:
    """Hold the case's visits for what the borrower told us; a case held already keeps
    its hold (a complaint replaces any other hold, since it must outlast them)."""
    if case.hold_reason and why is HoldReason.COMPLAINT and case.hold_reason != why.value:
        replaced = f"replaced by {why.value}"
        cases.apply(session, actor, case, "release", by=Caller.CONDUCT, reason=replaced, now=now)
    if not case.hold_reason:
        cases.apply(
            session, actor, case, "hold", by=Caller.CONDUCT,
            hold_reason=why.value, reason=note, now=now,
        )  # fmt: skip


def end_hardship_hold(
    session: Session, actor: Actor, case: Case, until: date, now: datetime
) -> None:
    """The hardship period the borrower reported is over: visits may resume."""
    ended = f"hardship hold ended {until}"
    cases.apply(session, actor, case, "release", by=Caller.REPAYMENT, reason=ended, now=now)
