"""Who may do what with a visit: the recording role, the live assignment, the manager."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import AssignmentEnded, Forbidden, NotFound
from doorstep.store.models import Visit
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import visits as repo


def require_recorder(actor: Actor) -> None:
    if not actor.can(Permission.RECORD_VISITS):
        raise Forbidden("your role cannot record visits", message_zh="您的角色无权登记外访")


def require_manager(actor: Actor) -> None:
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot review verdicts", message_zh="您的角色无权审核结论")


def live_team(session: Session, actor: Actor, case_id: int, now: datetime) -> int:
    """The actor's team the case is live-assigned to now (else `AssignmentEnded`)."""
    team_id = repo.live_team_of(session, case_id, actor.team_ids, now)
    if team_id is None:
        raise AssignmentEnded(
            f"case {case_id} is no longer assigned to your team: nothing was saved; your draft "
            "is kept on this phone, ask your supervisor",
            message_zh=f"案件 {case_id} 已不再分派给您的小组：未保存任何内容；草稿保留在本机，"
            "请联系主管",
        )
    return team_id


def visit_of(session: Session, actor: Actor, visit_id: int) -> Visit:
    """A visit of one of the actor's teams (404 otherwise, so ids do not leak)."""
    visit = session.get(Visit, visit_id) if 0 < visit_id <= case_repo.MAX_ID else None
    if visit is None or visit.team_id not in actor.team_ids:
        raise NotFound(f"no visit {visit_id}", message_zh=f"没有外访 {visit_id}")
    return visit
