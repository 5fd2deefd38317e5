"""Moving a case: `apply` is the one way, and the only writer of `cases.state`,
`cases.hold_reason` and (through the conduct rules' `start_hold`/`lift_hold`) of the
case's hold rows. `tests/unit/test_case_single_writer.py` fails if any other module
assigns them.

`apply(session, actor, case, action, *, by, ...)`, in this order:

1. the caller may take the action (`domain.case.POLICY`; a person — `Caller.USER` —
   needs `change_cases`, and never starts or records a visit);
2. the case is the version the caller saw (`expected_version`, else `Conflict`);
3. the domain allows the move (`transition`, `hold`, `release`, `end_hold`);
4. the conduct rules: lifting a hold needs a role each active hold allows
   (`lift_hold`, refused before any change); a new hold gets its row with its end rule
   (`start_hold`);
5. the row is written and flushed (a concurrent writer's change: `Conflict`);
6. the audit event `case.<action>` with one payload shape — from, to, hold (after),
   hold_before — and the reason; an action the lender hears of (`LENDER_TOPICS`: a
   close) writes its outbox event in the same transaction, whoever takes it (page, API,
   CLI, batch). A case closes only on its verdict: one without is refused.

`act` is the user's entry (page, API, CLI): their role, the case visible to them, then
`apply(by=Caller.USER)`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import (
    ACTIONS,
    Caller,
    CancelReason,
    CaseEvent,
    CaseState,
    CaseView,
    HoldReason,
    allowed_actions,
    end_hold,
    hold,
    may_take,
    release,
    transition,
)
from doorstep.domain.errors import Conflict, Forbidden, IllegalTransition, InvalidValue
from doorstep.services import outbox
from doorstep.services.cases.lookup import get_case
from doorstep.services.conduct import audit
from doorstep.services.conduct import holds as conduct
from doorstep.store.models import Case
from doorstep.store.repositories import visits as visit_repo

LENDER_TOPICS = {"close": "case.closed"}
"""The actions the lender hears of, and the outbox topic of each: `apply` writes the event
with every such action."""

VISIT_ACTIONS = frozenset({"start_visit", "record_visit"})


def view_of(case: Case) -> CaseView:
    """What the domain rules need to know of a stored case."""
    return CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )


def actions_for(case: Case) -> list[str]:
    """The actions a person may take on the case now (the page's buttons, the API's list)."""
    return [a for a in allowed_actions(view_of(case)) if may_take(Caller.USER, a)]


def _conflict() -> Conflict:
    return Conflict(
        "the case was changed by someone else: reload it", message_zh="案件已被他人修改，请刷新"
    )


def _check_caller(actor: Actor, action: str, by: Caller) -> None:
    if action not in ACTIONS:
        raise IllegalTransition(
            f"unknown case action {action!r}", message_zh=f"未知的案件操作 {action!r}"
        )
    if by is Caller.USER and not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot change cases", message_zh="您的角色无权变更案件")
    if may_take(by, action):
        return
    if action in VISIT_ACTIONS:
        raise Forbidden(
            "a visit is started by checking in and recorded by submitting it, not by a case action",
            message_zh="外访须通过签到开始、提交核实结果记录，不能直接变更案件状态",
        )
    raise Forbidden(
        f"{action} is not an action a {by.value} may take",
        message_zh=f"{by.value} 不能执行案件操作 {action}",
    )


_KINDS = {HoldReason: ("hold reason", "暂停原因"), CancelReason: ("cancel reason", "取消原因")}


def _known(value: str | None, kind: type[HoldReason] | type[CancelReason]) -> None:
    if value and value not in {v.value for v in kind}:
        en, zh = _KINDS[kind]
        raise InvalidValue(f"unknown {en} {value!r}", message_zh=f"未知的{zh} {value!r}")


def _needs(value: object, what: str, action: str) -> None:
    """A programming error, not the user's: the caller must give the time it acts at."""
    if value is None:
        raise TypeError(f"apply({action!r}) needs {what}")


def _decide(
    case: Case, action: str, reason: str | None, hold_reason: str | None
) -> tuple[CaseView, CaseEvent]:
    """The domain's answer: the case after the action and the event to audit."""
    before = view_of(case)
    if action == "hold":
        _known(hold_reason, HoldReason)
        return hold(before, HoldReason(hold_reason or HoldReason.OTHER), reason)
    if action == "release":
        return release(before, reason or "")
    if action == "end_hold":
        return end_hold(before, reason or "")
    return transition(before, action, reason)


def apply(
    session: Session,
    actor: Actor,
    case: Case,
    action: str,
    *,
    by: Caller,
    reason: str | None = None,
    hold_reason: str | None = None,
    cancel_reason: str | None = None,
    expected_version: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Case:
    """Take `action` on `case` for `by` (see the module's docstring for the steps).

    `reason`: why (a blank one is none; `cancel`, `close` and `release` need one).
    `hold_reason`: the type of a new hold (default other). `cancel_reason`: the
    cancellation's kind (default other). `today`: the business date a `record_visit`
    dates the visit with. `now`: the time a hold starts or is lifted at, or the lender is
    told at (needed by `hold`, `release` and `close`). Raises `Forbidden`, `Conflict`,
    `IllegalTransition`, `InvalidValue`; the row is flushed, never committed."""
    _check_caller(actor, action, by)
    if expected_version is not None and case.version != expected_version:
        raise _conflict()
    if action in ("hold", "release", *LENDER_TOPICS):
        _needs(now, "now", action)
    if action == "record_visit":
        _needs(today, "today", action)
    if action == "cancel":
        _known(cancel_reason, CancelReason)
    reason = (reason or "").strip() or None
    after, event = _decide(case, action, reason, hold_reason)
    lender_hears = _lender_payload(session, case, action, now)
    if action == "release":  # refused (before any change) unless the role may lift every hold
        assert now is not None
        conduct.lift_hold(session, actor, case, event.reason or "", now)
    case.state = after.state.value
    case.hold_reason = after.hold.value if after.hold else None
    if action == "hold" and after.hold is not None:  # the hold's row, with its end rule
        assert now is not None
        conduct.start_hold(session, actor, case, after.hold, event.reason, now)
    if action == "record_visit":
        case.visited_on = today
    if action == "cancel":
        case.cancel_reason = CancelReason(cancel_reason or CancelReason.OTHER).value
    try:
        session.flush()
    except StaleDataError:
        raise _conflict() from None
    _record(session, actor, case, event)
    if lender_hears is not None:
        assert now is not None
        outbox.emit(session, LENDER_TOPICS[action], str(case.id), lender_hears, now=now)
    return case


def _lender_payload(
    session: Session, case: Case, action: str, now: datetime | None
) -> dict[str, Any] | None:
    """What the lender is told of the action (None: nothing): a close carries the next
    step of the case's verdict, and a case without a verdict does not close."""
    if action not in LENDER_TOPICS:
        return None
    assert now is not None
    verdict = visit_repo.latest_verdict(session, case.id)
    if verdict is None:
        raise IllegalTransition(
            "a case closes on the verdict of its visit: this one has none",
            message_zh="案件须凭外访核实结论结案：该案件尚无结论",
        )
    return {
        "case_id": case.id,
        "customer_id": case.customer_id,
        "next_step": verdict.override_step or verdict.next_step,
        "closed_at": now.isoformat(),
    }


def _record(session: Session, actor: Actor, case: Case, event: CaseEvent) -> None:
    audit.record(
        session,
        actor,
        f"case.{event.action}",
        "case",
        case.id,
        {
            "from": event.before.value,
            "to": event.after.value,
            "hold": event.hold_after.value if event.hold_after else None,
            "hold_before": event.hold_before.value if event.hold_before else None,
        },
        reason=event.reason,
    )


def act(
    session: Session,
    actor: Actor,
    case_id: int,
    action: str,
    *,
    reason: str | None = None,
    hold_reason: str | None = None,
    cancel_reason: str | None = None,
    expected_version: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Case:
    """A person's case action (page, API, CLI): a role that may change cases, a case they
    may see, then `apply(by=Caller.USER)`: a transition, a hold or a release (`now`, the
    time it happens at, for those two)."""
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot change cases", message_zh="您的角色无权变更案件")
    return apply(
        session,
        actor,
        get_case(session, actor, case_id),
        action,
        by=Caller.USER,
        reason=reason,
        hold_reason=hold_reason,
        cancel_reason=cancel_reason,
        expected_version=expected_version,
        today=today,
        now=now,
    )


def expire_holds(session: Session, actor: Actor, now: datetime) -> int:
    """End the holds whose end rule has run out by `now` (e.g. a 60-day breathing space)
    and release each case they held that no other hold keeps (`case.hold_ended`, by the
    conduct rules). Returns how many holds ended."""
    ended = conduct.end_expired(session, now)
    conduct.escalate_late(session, now)  # complaints and disputes not answered in time
    rules = {h.case_id: h.lift_reason for h in ended}  # the last one's, for a case with two
    for case_id, end_rule in rules.items():
        case = session.get(Case, case_id)
        if case is None or case.hold_reason is None or conduct.hold_types(session, case_id, now):
            continue
        apply(session, actor, case, "end_hold", by=Caller.CONDUCT, reason=end_rule, now=now)
    return len(ended)
