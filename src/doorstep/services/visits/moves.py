"""The one place the visits package changes a case's state or hold, through the cases
package's one writer (`cases.apply`).

Checking in starts the visit (scheduled → visiting) and a submission records it
(→ visited) and holds a vulnerable borrower's case: the visit service is the only caller
that may take these actions (`Caller.VISIT`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import Caller, HoldReason
from doorstep.services.cases import apply
from doorstep.store.models import Case


def move_case(
    session: Session,
    actor: Actor,
    case: Case,
    action: str,
    reason: str | None,
    *,
    now: datetime,
    today: date | None = None,
) -> None:
    """Take `action` on the case as the visit service; `today` dates a recorded visit. A
    case changed by someone else since it was read is a `Conflict`."""
    apply(session, actor, case, action, by=Caller.VISIT, reason=reason, now=now, today=today)


def hold_vulnerable(session: Session, actor: Actor, case: Case, listed: str, now: datetime) -> None:
    """Hold the visits of a borrower found vulnerable (none when the case is on hold
    already: that hold stays)."""
    if case.hold_reason is not None:
        return
    apply(
        session, actor, case, "hold", by=Caller.VISIT,
        hold_reason=HoldReason.VULNERABILITY.value, reason="vulnerable borrower: " + listed,
        now=now,
    )  # fmt: skip
