"""The verification case (核实案件) and its state machine (DESIGN §3).

    new → confirming → ready → scheduled → visiting → visited → closed
    any state before visited → cancelled (cured, paid, complaint, dispute, deceased)
    scheduled → ready (visit missed or rescheduled)

A hold (complaint, dispute, vulnerability, ...) is not a state: it sits beside the state
and blocks every step that leads towards a visit until it is released (or its end rule
ends it). Each transition is an explicit function that refuses an illegal move with
`IllegalTransition` and returns the event to audit.

`POLICY` says which caller may take which action: a person (page, API, CLI) may not
start or record a visit, only the visit service does, at check-in and submission.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from doorstep.domain.errors import IllegalTransition


class CaseState(StrEnum):
    NEW = "new"
    CONFIRMING = "confirming"
    READY = "ready"
    SCHEDULED = "scheduled"
    VISITING = "visiting"
    VISITED = "visited"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CancelReason(StrEnum):
    CURED = "cured"
    PAID = "paid"
    COMPLAINT = "complaint"
    DISPUTE = "dispute"
    DECEASED = "deceased"
    HOLDOUT = "holdout"  # kept back by the selection policy to measure what visits do
    OTHER = "other"


class HoldReason(StrEnum):
    COMPLAINT = "complaint"
    DISPUTE = "dispute"
    VULNERABILITY = "vulnerability"
    HARDSHIP_REPORTED = "hardship_reported"
    DECEASED_OR_INCAPACITATED = "deceased_or_incapacitated"
    BREATHING_SPACE = "breathing_space"  # UK Debt Respite Scheme, 60 days
    WRITTEN_DISPUTE = "written_dispute"  # US Reg F 1006.38: until verification is sent
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """How a hold of one type ends and who may lift it before then.

    `days`: the hold ends by itself that many days after it starts (None: only when lifted).
    `lift_roles`: the roles that may lift it early (or at all, when `days` is None).
    """

    days: int | None
    lift_roles: frozenset[str]
    end_rule_en: str
    end_rule_zh: str


_MANAGERS = frozenset({"admin", "manager"})
HOLD_POLICIES: dict[HoldReason, HoldPolicy] = {
    HoldReason.COMPLAINT: HoldPolicy(
        None, _MANAGERS, "until the complaint is resolved", "投诉处理完毕后解除"
    ),
    HoldReason.DISPUTE: HoldPolicy(
        None, _MANAGERS, "until the dispute is answered", "争议答复后解除"
    ),
    HoldReason.VULNERABILITY: HoldPolicy(
        None, _MANAGERS, "until a manager reviews the person's situation", "经理复核后解除"
    ),
    HoldReason.HARDSHIP_REPORTED: HoldPolicy(
        None, _MANAGERS, "until the hardship is assessed", "困难情况评估后解除"
    ),
    HoldReason.DECEASED_OR_INCAPACITATED: HoldPolicy(
        None,
        frozenset({"admin"}),
        "until an administrator records the estate or guardian",
        "由管理员登记遗产管理人或监护人后解除",
    ),
    HoldReason.BREATHING_SPACE: HoldPolicy(
        60,
        frozenset({"admin"}),
        "60 days after it starts, or when the debt adviser cancels it",
        "开始后 60 天自动结束，或债务顾问取消时由管理员解除",
    ),
    HoldReason.WRITTEN_DISPUTE: HoldPolicy(
        None, _MANAGERS, "when the verification of the debt has been sent", "核实材料寄出后解除"
    ),
    HoldReason.OTHER: HoldPolicy(None, _MANAGERS, "when a manager lifts it", "由经理解除"),
}


def may_lift(why: HoldReason, role: str) -> bool:
    return role in HOLD_POLICIES[why].lift_roles


S = CaseState
TRANSITIONS: dict[str, tuple[frozenset[CaseState], CaseState]] = {
    "start_confirmation": (frozenset({S.NEW}), S.CONFIRMING),
    "mark_ready": (frozenset({S.NEW, S.CONFIRMING}), S.READY),
    "schedule": (frozenset({S.READY}), S.SCHEDULED),
    "unschedule": (frozenset({S.SCHEDULED}), S.READY),
    "start_visit": (frozenset({S.SCHEDULED}), S.VISITING),
    "record_visit": (frozenset({S.VISITING}), S.VISITED),
    "close": (frozenset({S.VISITED}), S.CLOSED),
    "cancel": (frozenset({S.NEW, S.CONFIRMING, S.READY, S.SCHEDULED, S.VISITING}), S.CANCELLED),
}
"""action -> (states it may start from, state it leads to)."""

TOWARDS_VISIT = frozenset({"mark_ready", "schedule", "start_visit"})
"""Actions a hold forbids: nothing may move a held case closer to a visit."""

OPEN_STATES = frozenset(S) - {S.CLOSED, S.CANCELLED}


@dataclass(frozen=True, slots=True)
class CaseView:
    """What the rules need to know of a case."""

    state: CaseState
    hold: HoldReason | None = None


@dataclass(frozen=True, slots=True)
class CaseEvent:
    action: str
    before: CaseState
    after: CaseState
    hold_before: HoldReason | None
    hold_after: HoldReason | None
    reason: str | None = None


def allowed_actions(case: CaseView) -> list[str]:
    """The transitions a case may take now (for the page's buttons)."""
    actions = [
        action
        for action, (sources, _) in TRANSITIONS.items()
        if case.state in sources and not (case.hold and action in TOWARDS_VISIT)
    ]
    if case.state in OPEN_STATES:
        actions.append("release" if case.hold else "hold")
    return actions


def transition(
    case: CaseView, action: str, reason: str | None = None
) -> tuple[CaseView, CaseEvent]:
    """Apply `action`; raises IllegalTransition when the state or a hold forbids it."""
    if action not in TRANSITIONS:
        raise IllegalTransition(
            f"unknown case action {action!r}", message_zh=f"未知的案件操作 {action!r}"
        )
    sources, target = TRANSITIONS[action]
    if case.state not in sources:
        raise IllegalTransition(
            f"a case in state {case.state.value} cannot {action}",
            message_zh=f"状态为 {case.state.value} 的案件不能执行 {action}",
        )
    if case.hold and action in TOWARDS_VISIT:
        raise IllegalTransition(
            f"the case is on hold ({case.hold.value}): no visit may be prepared",
            message_zh=f"案件已暂停（{case.hold.value}），不得安排外访",
        )
    if action == "cancel" and not reason:
        raise IllegalTransition("a cancellation needs a reason", message_zh="取消案件需要原因")
    if action == "close" and not reason:
        raise IllegalTransition("closing a case needs a reason", message_zh="结案需要原因")
    after = replace(case, state=target)
    return after, CaseEvent(action, case.state, target, case.hold, case.hold, reason)


def hold(case: CaseView, why: HoldReason, note: str | None = None) -> tuple[CaseView, CaseEvent]:
    """Put an open case on hold. A scheduled case goes back to ready: its visit is off."""
    if case.state not in OPEN_STATES:
        raise IllegalTransition(
            f"a {case.state.value} case cannot be held",
            message_zh=f"{case.state.value} 状态的案件不能暂停",
        )
    if case.hold:
        raise IllegalTransition(
            f"the case is already on hold ({case.hold.value})", message_zh="案件已处于暂停状态"
        )
    state = S.READY if case.state is S.SCHEDULED else case.state
    after = CaseView(state, why)
    return after, CaseEvent("hold", case.state, state, None, why, note or why.value)


def release(case: CaseView, note: str) -> tuple[CaseView, CaseEvent]:
    if not case.hold:
        raise IllegalTransition("the case is not on hold", message_zh="案件未暂停")
    if not note:
        raise IllegalTransition("lifting a hold needs a reason", message_zh="解除暂停需要原因")
    after = CaseView(case.state, None)
    return after, CaseEvent("release", case.state, case.state, case.hold, None, note)


def end_hold(case: CaseView, end_rule: str) -> tuple[CaseView, CaseEvent]:
    """The hold ended by its end rule (e.g. a breathing space after 60 days): nobody lifts
    it, so nobody's role is checked. Audited as `hold_ended`, the name the trail has
    always used for it."""
    if not case.hold:
        raise IllegalTransition("the case is not on hold", message_zh="案件未暂停")
    after = CaseView(case.state, None)
    return after, CaseEvent("hold_ended", case.state, case.state, case.hold, None, end_rule)


# --- who may take which action -------------------------------------------------------------

HOLD_ACTIONS = frozenset({"hold", "release", "end_hold"})
"""Actions on the hold beside the state (`hold`, `release`, `end_hold`); the rest are
`TRANSITIONS`."""

ACTIONS = frozenset(TRANSITIONS) | HOLD_ACTIONS


class Caller(StrEnum):
    """Who moves a case. Each takes only the actions `POLICY` lists for it."""

    USER = "user"  # a person on a page, the API or the CLI (role-checked: change_cases)
    SELECTION = "selection"  # the daily selection opening and sorting cases
    PLANNER = "planner"  # a published visit plan (and its supersession)
    VISIT = "visit"  # the visit service: check-in, submission (and its vulnerability hold)
    CONDUCT = "conduct"  # holds the conduct rules start and end: complaints, end rules
    REPAYMENT = "repayment"  # repayment plans: their hold, and the case back when broken


POLICY: dict[Caller, frozenset[str]] = {
    Caller.USER: frozenset(
        {
            "start_confirmation",
            "mark_ready",
            "schedule",
            "unschedule",
            "cancel",
            "close",
            "hold",
            "release",
        }
    ),
    Caller.SELECTION: frozenset({"start_confirmation", "mark_ready", "cancel"}),
    Caller.PLANNER: frozenset({"schedule", "unschedule"}),
    Caller.VISIT: frozenset({"start_visit", "record_visit", "hold"}),
    Caller.CONDUCT: frozenset({"hold", "release", "end_hold"}),
    Caller.REPAYMENT: frozenset({"hold", "release", "mark_ready"}),
}
"""caller -> the actions it may take. A visit starts and is recorded by the visit service
alone (a check-in, a submitted interview): no person moves a case to visiting or visited.
A person closes only a visited case (so one with a verdict), with a reason, and the
lender hears of every close (`services.cases.transitions.LENDER_TOPICS`)."""


def may_take(by: Caller, action: str) -> bool:
    return action in POLICY[by]
