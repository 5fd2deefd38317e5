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
    PLAN_VISITS = "plan_visits"  # run, edit and publish visit plans
    RECORD_VISITS = "record_visits"  # check in/out, interview, evidence, verdict
    READ_MODELS = "read_models"  # model list, metrics, monitoring, fairness
    TRAIN_MODELS = "train_models"  # train, evaluate, activate models
    MAKE_OFFERS = "make_offers"  # offer repayment plans; approve another manager's offer
    READ_RULES = "read_rules"  # the effective conduct-rule pack
    # privacy requests (PIPL Arts 44-50): receive, verify, answer, export, erase; the
    # compliance function's (auditor), apart from the managers who run collection
    HANDLE_PRIVACY_REQUESTS = "handle_privacy_requests"
    # quality review of a sample of visits: the auditors', apart from those who visit
    REVIEW_VISIT_QUALITY = "review_visit_quality"


P = Permission
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(P),
    Role.MANAGER: frozenset(
        {
            P.READ_CASES,
            P.CHANGE_CASES,
            P.REVEAL_PERSONAL_DATA,
            P.RECORD_ATTEMPTS,
            P.RUN_BATCHES,
            P.PLAN_VISITS,
            P.READ_MODELS,
            P.MAKE_OFFERS,
            P.READ_RULES,
        }
    ),
    Role.VERIFIER: frozenset(
        {P.READ_CASES, P.REVEAL_PERSONAL_DATA, P.RECORD_ATTEMPTS, P.RECORD_VISITS}
    ),
    Role.ANALYST: frozenset({P.READ_CASES, P.READ_MODELS, P.TRAIN_MODELS}),
    Role.AUDITOR: frozenset(
        {
            P.READ_CASES,
            P.READ_AUDIT,
            P.READ_MODELS,
            P.READ_RULES,
            P.HANDLE_PRIVACY_REQUESTS,
            P.REVIEW_VISIT_QUALITY,
        }
    ),
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
