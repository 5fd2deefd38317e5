"""What every scoring use case shares: the purposes, the permission check, progress."""

from __future__ import annotations

from collections.abc import Callable

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Forbidden
from doorstep.scoring import behaviour

VISIT_PRIORITY = behaviour.VISIT_PRIORITY
HARDSHIP = "hardship_vs_evasion"
PURPOSES = (VISIT_PRIORITY, HARDSHIP)
Progress = Callable[[str], None]
"""Where a long run reports what it is doing (one line at a time)."""


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"your role cannot {permission.value.replace('_', ' ')}",
            message_zh="您的角色无权执行此操作",
        )


def say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
