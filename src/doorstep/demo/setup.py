"""Demo people: one user per role, two verifier teams, and today's assignments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Role
from doorstep.services.people import teams, users
from doorstep.store.models import User
from doorstep.store.repositories import demo as demo_repo

DEMO_USERS = [
    ("admin", "系统管理员", Role.ADMIN, None),
    ("manager", "王经理", Role.MANAGER, ["北京市", "上海市", "广州市"]),
    ("verifier", "李外访", Role.VERIFIER, None),
    ("verifier2", "赵外访", Role.VERIFIER, None),
    ("verifier3", "陈外访", Role.VERIFIER, None),
    ("verifier4", "周外访", Role.VERIFIER, None),
    ("analyst", "刘分析", Role.ANALYST, None),
    ("auditor", "孙审计", Role.AUDITOR, None),
]


OFFICES = {"北京市": (39.9087, 116.3975), "上海市": (31.2304, 121.4737)}
"""The demo teams' home base: an office in the city centre (WGS-84)."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


def create_people(
    session: Session, as_of: date, zone: ZoneInfo, per_team: int = 6, *, hasher: PasswordHasher
) -> list[DemoLogin]:
    """Users with fresh random passwords (printed once), two teams, and the best ready
    cases of each team's city assigned to it for the day. Existing demo users are kept."""
    logins = []
    made: dict[str, User] = {}
    for n, (username, name, role, regions) in enumerate(DEMO_USERS):
        existing = demo_repo.user_named(session, username)
        if existing is not None:
            made[username] = existing
            continue
        password = secrets.token_urlsafe(9)
        badge = f"WF-{1000 + n}" if role is Role.VERIFIER else None
        made[username] = users.add_user(
            session,
            SYSTEM,
            users.NewUser(username, name, role, password, regions, badge),
            hasher=hasher,
        )
        logins.append(DemoLogin(username, role.value, password))
    if not teams.teams(session):
        # Live from the book date's midnight for two days, so the demo works at any hour.
        day_start = datetime.combine(as_of, time(0), tzinfo=zone)
        for name, members in (
            ("北京一组", ("verifier", "verifier2")),
            ("上海一组", ("verifier3", "verifier4")),
        ):
            city = name[:2] + "市"
            team = teams.create_team(session, SYSTEM, name, city, [made[m] for m in members])
            # Where the team's day starts and ends (the city office), its shift and capacity.
            team.base_lat, team.base_lng = OFFICES[city]
            team.shift_start_minute, team.shift_end_minute, team.max_visits = 9 * 60, 20 * 60, 8
            ready = demo_repo.best_ready_cases(session, city, per_team)
            for case in ready:
                teams.assign(
                    session, SYSTEM, case.id, team.id, day_start, day_start + timedelta(days=2)
                )
    return logins
