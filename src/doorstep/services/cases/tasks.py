"""Work on a case (`domain.tasks`): opened by a verdict's next step, a promise's
judgement or a skip-trace, owned by the case's owner (else a manager of its city), due
by the kind's days, escalated by an alert once overdue, closed with its result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Permission, Role
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.domain.tasks import (
    FOR_STEP,
    SKIP_TRACE,
    TaskKind,
    TaskState,
    days_waiting,
    due_on,
    overdue,
)
from doorstep.domain.verdict import NextStep
from doorstep.services.conduct import audit
from doorstep.store.models import Alert, Case, CaseTask, Verdict
from doorstep.store.repositories import tasks as repo

MIN_RESULT = 2  # characters


def owner_for(session: Session, case: Case) -> int | None:
    """The case's owner, else the first manager who runs its city (or every city)."""
    if case.owner_id is not None:
        return case.owner_id
    for manager in repo.managers(session):
        if manager.regions is None or (case.city and case.city in manager.regions):
            return manager.id
    return None


def open_task(
    session: Session,
    case: Case,
    kind: TaskKind,
    today: date,
    *,
    verdict_id: int | None = None,
    promise_id: int | None = None,
) -> CaseTask | None:
    """A new open task of `kind` on the case (None when one is open already)."""
    made = _open(session, case, (kind,), today, verdict_id=verdict_id, promise_id=promise_id)
    return made[0] if made else None


def open_for_step(
    session: Session, case: Case, step: NextStep, today: date, verdict_id: int | None
) -> list[CaseTask]:
    """The tasks a verdict's next step opens (none for a revisit or a promise)."""
    return _open(session, case, FOR_STEP.get(step, ()), today, verdict_id=verdict_id)


def open_skip_trace(session: Session, case: Case, today: date) -> list[CaseTask]:
    """One task per skip-trace source: references, the lender's other products, the
    registries the lender holds, the portal's address confirmation."""
    return _open(session, case, SKIP_TRACE, today)


def _open(
    session: Session,
    case: Case,
    kinds: Iterable[TaskKind],
    today: date,
    *,
    verdict_id: int | None = None,
    promise_id: int | None = None,
) -> list[CaseTask]:
    """The tasks of `kinds` not open on the case yet: the case's open tasks and its owner
    read once for all of them, one flush, one audit event each."""
    have = {t.kind for t in repo.open_tasks_of_case(session, case.id)}
    wanted = [kind for kind in kinds if kind.value not in have]
    if not wanted:
        return []
    owner = owner_for(session, case)
    made = [
        CaseTask(
            kind=kind.value,
            case_id=case.id,
            verdict_id=verdict_id,
            promise_id=promise_id,
            owner_id=owner,
            opened_on=today,
            due_on=due_on(kind, today),
            state=TaskState.OPEN.value,
        )
        for kind in wanted
    ]
    session.add_all(made)
    session.flush()
    for task in made:
        summary = {"task": task.id, "kind": task.kind, "owner": owner, "due": str(task.due_on)}
        audit.record(session, SYSTEM, "task.open", "case", case.id, summary)
    return made


def _close(task: CaseTask, state: TaskState, result: str, by: int | None, now: datetime) -> None:
    task.state, task.result = state.value, result
    task.closed_at, task.closed_by = now, by


def end_skip_trace(session: Session, case: Case, why: str, now: datetime) -> int:
    """The case leaves skip-trace: its open skip-trace tasks are done with `why`."""
    ended = 0
    for task in repo.open_tasks_of_case(session, case.id):
        if task.kind in SKIP_TRACE:
            _close(task, TaskState.DONE, why, None, now)
            ended += 1
    if case.skip_trace:
        case.skip_trace = False
        audit.record(session, SYSTEM, "case.skip_trace_ended", "case", case.id, {"why": why})
    return ended


def _manager(actor: Actor) -> None:
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("only managers work on tasks", message_zh="只有经理可以处理待办")


def _visible(actor: Actor, case: Case) -> bool:
    return actor.role is not Role.MANAGER or actor.regions is None or case.city in actor.regions


def complete(
    session: Session, actor: Actor, task_id: int, result: str | None, now: datetime
) -> CaseTask:
    """Record what came of an open task (done), in a few words."""
    _manager(actor)
    task = session.get(CaseTask, task_id) if 0 < task_id < 2**31 else None
    case = session.get(Case, task.case_id) if task is not None else None
    if task is None or case is None or not _visible(actor, case):
        raise NotFound(f"no task {task_id}", message_zh=f"没有待办 {task_id}")
    text = (result or "").strip()
    if len(text) < MIN_RESULT:
        raise InvalidValue(
            "result: say what came of it (at least 2 characters)",
            message_zh="结果：请说明处理结果（至少 2 个字）",
        )
    if task.state != TaskState.OPEN:
        raise InvalidValue("the task is closed already", message_zh="该待办已结束")
    _close(task, TaskState.DONE, text, actor.user_id, now)
    session.flush()
    audit.record(session, actor, "task.done", "case", case.id, {"task": task.id, "kind": task.kind})
    return task


def escalate_overdue(session: Session, today: date, now: datetime) -> list[Alert]:
    """One `task_overdue` alert for each open task past its due day (once per task)."""
    raised = []
    for task in repo.overdue_unescalated(session, today):
        alert = Alert(
            kind="task_overdue",
            case_id=task.case_id,
            raised_at=now,
            detail={"task": task.id, "kind": task.kind, "due_on": task.due_on.isoformat()},
        )
        session.add(alert)
        task.escalated_at = now
        raised.append(alert)
    session.flush()
    return raised


@dataclass(frozen=True)
class TaskRow:
    task: CaseTask
    case: Case
    owner: str | None
    overdue: bool
    days_open: int


@dataclass(frozen=True)
class AwaitingReview:
    verdict: Verdict
    case: Case
    days_waiting: int


def task_list(session: Session, actor: Actor, today: date) -> list[TaskRow]:
    """The open tasks a manager sees (their regions'), soonest due first."""
    _manager(actor)
    regions = actor.regions if actor.role is Role.MANAGER else None
    return [
        TaskRow(t, c, name, overdue(t.state, t.due_on, today), days_waiting(t.opened_on, today))
        for t, c, name in repo.open_tasks(session, regions)
    ]


def review_queue(
    session: Session, actor: Actor, now: datetime, zone: tzinfo
) -> list[AwaitingReview]:
    """Verdicts awaiting a manager's review, longest waiting first, with the days each
    has waited (in local business days)."""
    _manager(actor)
    today = now.astimezone(zone).date()
    regions = actor.regions if actor.role is Role.MANAGER else None
    return [
        AwaitingReview(v, c, days_waiting(at.astimezone(zone).date(), today))
        for v, c, at in repo.verdicts_awaiting_review(session, regions)
    ]
