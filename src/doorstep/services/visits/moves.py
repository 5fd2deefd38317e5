"""The one place the visits package changes a case's state or hold.

Checking in starts the visit (scheduled → visiting), a submission records it (→ visited)
and holds a vulnerable borrower's case, the manager closes it: each of these writes is a
call of `move_case`, so a single case-moving operation of the cases package can take
its place here alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.domain.access import Actor
from doorstep.domain.case import CaseState, CaseView, HoldReason, hold, transition
from doorstep.domain.errors import Conflict
from doorstep.services.conduct import audit
from doorstep.services.conduct import rules as conduct_rules
from doorstep.store.models import Case


def move_case(
    session: Session,
    actor: Actor,
    case: Case,
    action: str,
    reason: str | None,
    *,
    now: datetime,
    hold_note: str | None = None,
) -> None:
    """`action` "hold": the vulnerability hold of a submission (none when the case is on
    hold already), its hold row noted `hold_note` from `now`, audited with `reason`.
    Any other action: that transition of the case's state machine, audited; a case that
    someone else changed since it was read is a `Conflict`."""
    if action == "hold":
        if case.hold_reason is not None:
            return
        after, _event = hold(
            CaseView(CaseState(case.state), None), HoldReason.VULNERABILITY, "vulnerable borrower"
        )
        case.hold_reason = HoldReason.VULNERABILITY.value
        conduct_rules.start_hold(session, actor, case, HoldReason.VULNERABILITY, hold_note, now)
        summary = {"from": case.state, "to": after.state.value, "hold": "vulnerability"}
        audit.record(session, actor, "case.hold", "case", case.id, summary, reason=reason)
        return
    view = CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )
    after, event = transition(view, action, reason)
    case.state = after.state.value
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "the case was changed by someone else: reload it", message_zh="案件已被他人修改，请刷新"
        ) from None
    summary = {"from": event.before.value, "to": event.after.value}
    audit.record(session, actor, f"case.{action}", "case", case.id, summary, reason=reason)
