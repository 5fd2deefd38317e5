"""Roles and what each may do (DESIGN §1). Row-level rules live in the services; this is
the table they consult."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    VERIFIER = "verifier"
    ANALYST = "analyst"
    AUDITOR = "auditor"


class Permission(StrEnum):
    READ_CASES = "read_cases"
    CHANGE_CASES = "change_cases"
    REVEAL_PERSONAL_DATA = "reveal_personal_data"
    RECORD_ATTEMPTS = "record_attempts"
    MANAGE_USERS = "manage_users"
    READ_AUDIT = "read_audit"
    RUN_BATCHES = "run_batches"


P = Permission
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(P),
    Role.MANAGER: frozenset({P.READ_CASES, P.CHANGE_CASES, P.REVEAL_PERSONAL_DATA,
                             P.RECORD_ATTEMPTS, P.RUN_BATCHES}),
    Role.VERIFIER: frozenset({P.READ_CASES, P.REVEAL_PERSONAL_DATA, P.RECORD_ATTEMPTS}),
    Role.ANALYST: frozenset({P.READ_CASES}),
    Role.AUDITOR: frozenset({P.READ_CASES, P.READ_AUDIT}),
}


def can(role: Role | str, permission: Permission) -> bool:
    return permission in GRANTS[Role(role)]


from dataclasses import dataclass, field  # noqa: E402


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a signed-in user, or the system itself for batches."""

    username: str
    role: Role
    user_id: int | None = None
    regions: frozenset[str] | None = None  # None: every region (admin, auditor, analyst)
    team_ids: frozenset[int] = field(default_factory=frozenset)

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)


SYSTEM = Actor("system", Role.ADMIN)
