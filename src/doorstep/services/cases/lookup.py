"""Finding cases as a user may see them: a page of the list, one case (404 for one they
may not see, so ids do not leak), a customer's cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Forbidden, NotFound
from doorstep.store.models import Case
from doorstep.store.repositories import cases as repo

CaseFilter = repo.CaseFilter


def _reader(actor: Actor) -> None:
    if not actor.can(Permission.READ_CASES):
        raise Forbidden("your role cannot read cases", message_zh="您的角色无权查看案件")


def list_visible(
    session: Session, actor: Actor, f: CaseFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Case], int]:
    """One page of the cases the actor may see, highest priority first, and the total."""
    _reader(actor)
    return repo.list_cases(session, actor, f, page=page, per_page=per_page)


def get_case(session: Session, actor: Actor, case_id: int, now: datetime | None = None) -> Case:
    """A case the actor may see at `now` (a verifier: while assigned; None: the system
    clock's); 404 (not 403) for one they may not, so ids do not leak."""
    _reader(actor)
    case = repo.get_visible(session, actor, case_id, now)
    if case is None:
        raise NotFound(f"no case {case_id}", message_zh=f"没有案件 {case_id}")
    return case


def case_ids_of(session: Session, customer_id: str) -> list[int]:
    return repo.case_ids_of(session, customer_id)
