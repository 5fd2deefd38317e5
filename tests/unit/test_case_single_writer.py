"""One way to move a case: `services.cases.transitions.apply` is the only writer of a
case's state and hold, and the policy table says which caller may take which action.

The AST walk flags, in every module of src/ but the one holding `apply`:
- an assignment to `<x>.hold_reason` (tuple targets and `setattr` included);
- an assignment to `<x>.state` where `<x>` names a case (`case`, `c`, `existing`, `held`,
  `*_case`) or the value speaks of `CaseState` or of a transition's `after.state`
  (`plan.state`, `offer.state`, `run.state`, `visit.state`, ... are other state machines);
- an assignment to a hold row's dates or lifter (`<hold>.lifted_at`, `.ends_at`, ...)
  outside the conduct rules' hold module, whose writers only `apply` calls;
- a call of those writers (`start_hold`, `lift_hold`, `end_expired`) outside `apply`'s
  module;
- an `update(Case)` statement (a bulk write past every check);
- a service calling `cases.act`, the entry of a person: a service moves a case as
  itself, `apply(by=Caller.PLANNER)` and so on, so the policy table sees who it is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.case import ACTIONS, POLICY, TRANSITIONS, Caller, may_take
from doorstep.domain.errors import Forbidden, IllegalTransition
from doorstep.services.cases import actions_for, apply
from doorstep.store.models import Case

SRC = Path(__file__).resolve().parents[2] / "src" / "doorstep"
WRITER = SRC / "services" / "cases" / "transitions.py"
HOLD_ROWS = SRC / "services" / "conduct" / "holds.py"
SERVICES = SRC / "services"
SKIPPED = (SRC / "store" / "migrations",)

CASE_NAME = re.compile(r"^(case|c|existing|held|\w+_case)$")
HOLD_ROW_FIELDS = {"started_at", "ends_at", "lifted_at", "lifted_by", "lift_reason"}
HOLD_WRITERS = {"start_hold", "lift_hold", "end_expired"}


def _modules() -> Iterator[Path]:
    for path in sorted(SRC.rglob("*.py")):
        if path != WRITER and not any(path.is_relative_to(s) for s in SKIPPED):
            yield path


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        pending = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        pending = [node.target]
    else:
        return
    while pending:
        target = pending.pop()
        if isinstance(target, ast.Tuple | ast.List):
            pending.extend(target.elts)
        elif isinstance(target, ast.Starred):
            pending.append(target.value)
        else:
            yield target


def _name(expr: ast.expr) -> str:
    """The last name of `x`, `a.b.x`, `f(...).x`: what the object is called."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return ""


def _writes_case_state(target: ast.Attribute, value: ast.expr | None) -> bool:
    if target.attr != "state":
        return False
    if CASE_NAME.match(_name(target.value)):
        return True
    text = ast.unparse(value) if value is not None else ""
    return "CaseState" in text or "after.state" in text


def _findings(path: Path) -> Iterator[str]:
    return _scan(path.read_text("utf-8"), path)


def _scan(source: str, path: Path) -> Iterator[str]:
    tree = ast.parse(source, str(path))
    where = path.relative_to(SRC.parent)
    for node in ast.walk(tree):
        value = getattr(node, "value", None)
        for target in _targets(node):
            if not isinstance(target, ast.Attribute):
                continue
            if target.attr == "hold_reason" or _writes_case_state(target, value):
                yield f"{where}:{node.lineno}: assigns {ast.unparse(target)}"
            elif (
                target.attr in HOLD_ROW_FIELDS
                and "hold" in _name(target.value)
                and path != HOLD_ROWS
            ):
                yield f"{where}:{node.lineno}: assigns the hold row's {ast.unparse(target)}"
        if not isinstance(node, ast.Call):
            continue
        called = _name(node.func)
        if called in HOLD_WRITERS and path != HOLD_ROWS:
            yield f"{where}:{node.lineno}: calls {called} (only apply starts or lifts a hold)"
        if called == "setattr" and len(node.args) >= 2:
            field = node.args[1]
            if isinstance(field, ast.Constant) and field.value in ("state", "hold_reason"):
                yield f"{where}:{node.lineno}: setattr(..., {field.value!r})"
        if called == "update" and any(_name(a) == "Case" for a in node.args):
            yield f"{where}:{node.lineno}: update(Case) writes cases past apply"
        if (
            called == "act"
            and isinstance(node.func, ast.Attribute)
            and _name(node.func.value) == "cases"
            and path.is_relative_to(SERVICES)
        ):
            yield f"{where}:{node.lineno}: a service calls cases.act (a person's entry)"


def test_only_apply_writes_a_case_state_or_hold() -> None:
    found = [f for path in _modules() for f in _findings(path)]
    assert not found, "write through services.cases.apply instead:\n" + "\n".join(found)


def test_the_walk_finds_what_it_looks_for() -> None:
    """The checks themselves: each kind of write is seen, and other state machines' are not."""
    sample = """
case.state = after.state.value
existing.hold_reason = None
x.state, held.hold_reason = CaseState.READY.value, "complaint"
hold.lifted_at, hold.lifted_by = now, "me"
setattr(case, "state", "ready")
rules.start_hold(session, actor, case, why, note, now)
session.execute(update(Case).values(state="closed"))
cases.act(session, actor, case.id, "schedule")
plan.state = "superseded"
offer.state, offer.closed_at = "kept", now
visit.state = "checked_out"
"""
    found = list(_scan(sample, SERVICES / "probe.py"))
    assert len(found) == 10, found
    assert not any(k in f for f in found for k in ("plan.state", "offer.state", "visit.state"))


# --- the policy table ------------------------------------------------------------------


def test_each_caller_takes_only_its_actions() -> None:
    assert {
        Caller.USER: {
            "start_confirmation",
            "mark_ready",
            "schedule",
            "unschedule",
            "cancel",
            "close",
            "hold",
            "release",
        },
        Caller.SELECTION: {"start_confirmation", "mark_ready", "cancel"},
        Caller.PLANNER: {"schedule", "unschedule"},
        Caller.VISIT: {"start_visit", "record_visit", "hold"},
        Caller.CONDUCT: {"hold", "release", "end_hold"},
        Caller.REPAYMENT: {"hold", "release", "mark_ready"},
    } == POLICY
    assert set(Caller) == set(POLICY)
    assert set().union(*POLICY.values()) == ACTIONS  # every action has a caller, no other
    assert set(TRANSITIONS) <= ACTIONS


def test_the_visit_service_alone_starts_and_records_visits() -> None:
    for action in ("start_visit", "record_visit"):
        assert {c for c in Caller if may_take(c, action)} == {Caller.VISIT}
    assert not may_take(Caller.USER, "start_visit") and not may_take(Caller.USER, "record_visit")


def _case(state: str, hold: str | None = None) -> Case:
    return Case(id=1, state=state, hold_reason=hold, version=3, customer_id="C0001")


NO_SESSION = cast(Session, None)  # a refusal comes before anything is read or written


@pytest.mark.parametrize("by", list(Caller))
def test_apply_refuses_an_action_outside_the_callers_row(by: Caller) -> None:
    for action in sorted(ACTIONS - POLICY[by]):
        case = _case("scheduled")
        with pytest.raises(Forbidden):
            apply(NO_SESSION, SYSTEM, case, action, by=by, reason="r")
        assert (case.state, case.hold_reason, case.version) == ("scheduled", None, 3)


def test_apply_checks_a_persons_role_and_the_action_name() -> None:
    verifier = Actor("verifier", Role.VERIFIER)
    with pytest.raises(Forbidden, match="role"):
        apply(NO_SESSION, verifier, _case("new"), "start_confirmation", by=Caller.USER)
    with pytest.raises(IllegalTransition, match="unknown"):
        apply(NO_SESSION, SYSTEM, _case("new"), "fly_to_the_moon", by=Caller.USER)
    with pytest.raises(Forbidden, match="checking in"):
        apply(NO_SESSION, SYSTEM, _case("scheduled"), "start_visit", by=Caller.USER)


def test_a_person_is_offered_no_visit_step() -> None:
    assert "start_visit" not in actions_for(_case("scheduled"))
    assert "record_visit" not in actions_for(_case("visiting"))
    assert {"unschedule", "cancel", "hold"} <= set(actions_for(_case("scheduled")))
    assert actions_for(_case("ready", "complaint")) == ["cancel", "release"]
