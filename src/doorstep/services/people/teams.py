"""Teams of verifiers and the assignment of cases to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission, Role
from doorstep.domain.errors import Forbidden, InvalidValue
from doorstep.services.cases import get_case
from doorstep.services.conduct import audit
from doorstep.store.models import Assignment, Team, TeamMember, User
from doorstep.store.repositories import people as repo


def create_team(
    session: Session, by: Actor, name: str, city: str | None, members: list[User]
) -> Team:
    """A team of at least two verifiers: field visits are never made alone."""
    if len(members) < 2:
        raise InvalidValue(
            "a team needs at least two verifiers", message_zh="外访小组至少需要两名外访员"
        )
    if any(m.role != Role.VERIFIER.value for m in members):
        raise InvalidValue("team members must be verifiers", message_zh="小组成员必须是外访员")
    team = Team(name=name, city=city)
    session.add(team)
    session.flush()
    session.add_all(TeamMember(team_id=team.id, user_id=m.id) for m in members)
    audit.record(
        session,
        by,
        "team.create",
        "team",
        team.id,
        {"name": name, "members": [m.username for m in members]},
    )
    return team


def assign(
    session: Session, by: Actor, case_id: int, team_id: int, starts_at: datetime, ends_at: datetime
) -> Assignment:
    """Give a case to a team for a period; its verifiers see the case only inside it."""
    if not by.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot assign cases", message_zh="您的角色无权分派案件")
    get_case(session, by, case_id)
    if ends_at <= starts_at:
        raise InvalidValue(
            "an assignment must end after it starts", message_zh="分派结束时间必须晚于开始时间"
        )
    assignment = Assignment(case_id=case_id, team_id=team_id, starts_at=starts_at, ends_at=ends_at)
    session.add(assignment)
    session.flush()
    audit.record(
        session,
        by,
        "case.assign",
        "case",
        case_id,
        {"team_id": team_id, "from": starts_at.isoformat(), "until": ends_at.isoformat()},
    )
    return assignment


def teams(session: Session) -> list[Team]:
    return repo.teams_by_name(session)
