"""The case state machine of DESIGN §3 and holds (the audit chain: test_audit_keys.py)."""

from __future__ import annotations

import pytest

from doorstep.domain.case import (
    TRANSITIONS,
    CaseState,
    CaseView,
    HoldReason,
    allowed_actions,
    hold,
    release,
    transition,
)
from doorstep.domain.errors import IllegalTransition

S = CaseState
HAPPY_PATH = [
    ("start_confirmation", S.CONFIRMING),
    ("mark_ready", S.READY),
    ("schedule", S.SCHEDULED),
    ("start_visit", S.VISITING),
    ("record_visit", S.VISITED),
    ("close", S.CLOSED),
]


def test_happy_path_reaches_closed() -> None:
    """new → confirming → ready → scheduled → visiting → visited → closed."""
    case = CaseView(S.NEW)
    for action, expected in HAPPY_PATH:
        case, event = transition(case, action, "verdict accepted" if action == "close" else None)
        assert case.state is expected
        assert event.after is expected


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_every_illegal_move_is_refused(state: CaseState, action: str) -> None:
    """Each action works exactly from its listed source states and nowhere else."""
    sources, target = TRANSITIONS[action]
    if state in sources:
        after, _ = transition(CaseView(state), action, reason="r")
        assert after.state is target
    else:
        with pytest.raises(IllegalTransition):
            transition(CaseView(state), action, reason="r")


def test_cancel_only_before_visited_and_needs_reason() -> None:
    for state in (S.NEW, S.CONFIRMING, S.READY, S.SCHEDULED, S.VISITING):
        assert transition(CaseView(state), "cancel", "cured")[0].state is S.CANCELLED
    for state in (S.VISITED, S.CLOSED, S.CANCELLED):
        with pytest.raises(IllegalTransition):
            transition(CaseView(state), "cancel", "cured")
    with pytest.raises(IllegalTransition):
        transition(CaseView(S.NEW), "cancel")


def test_close_needs_a_reason() -> None:
    with pytest.raises(IllegalTransition, match="reason"):
        transition(CaseView(S.VISITED), "close")
    assert transition(CaseView(S.VISITED), "close", "verdict accepted")[0].state is S.CLOSED


def test_missed_visit_goes_back_to_ready() -> None:
    assert transition(CaseView(S.SCHEDULED), "unschedule")[0].state is S.READY


def test_hold_blocks_every_step_towards_a_visit() -> None:
    """A complaint holds the case: no mark_ready, schedule or start_visit until released;
    a scheduled case falls back to ready."""
    held, event = hold(CaseView(S.SCHEDULED), HoldReason.COMPLAINT, "customer complained")
    assert held.state is S.READY and held.hold is HoldReason.COMPLAINT
    assert event.reason == "customer complained"
    with pytest.raises(IllegalTransition, match="on hold"):
        transition(held, "schedule")
    assert "schedule" not in allowed_actions(held)
    assert "release" in allowed_actions(held)
    assert transition(held, "cancel", "complaint")[0].state is S.CANCELLED
    with pytest.raises(IllegalTransition):
        hold(held, HoldReason.DISPUTE)
    with pytest.raises(IllegalTransition):
        release(held, "")
    released, _ = release(held, "complaint resolved")
    assert released.hold is None
    assert transition(released, "schedule")[0].state is S.SCHEDULED


def test_closed_case_cannot_be_held() -> None:
    with pytest.raises(IllegalTransition):
        hold(CaseView(S.CLOSED), HoldReason.COMPLAINT)
