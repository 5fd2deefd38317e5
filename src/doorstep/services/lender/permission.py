"""The one permission check of the lender's services (endpoints, dead letters, feed)."""

from __future__ import annotations

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Forbidden


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"your role cannot do this ({permission.value})",
            message_zh=f"您的角色无权执行此操作（{permission.value}）",
        )
