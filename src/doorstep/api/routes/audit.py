from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from doorstep.domain.access import Permission
from doorstep.domain.errors import Forbidden
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services.conduct import audit, audit_checks

router = APIRouter(prefix="/api/audit", tags=["audit"])


class ChainReport(BaseModel):
    events: int
    intact: bool
    broken_at: int | None
    reason: str | None


@router.get("/verify", response_model=ChainReport)
def verify(actor: CurrentActor, session: DbSession, state: State) -> ChainReport:
    if not actor.can(Permission.READ_AUDIT):
        raise Forbidden(
            "your role cannot read the audit trail", message_zh="您的角色无权查看审计记录"
        )
    checkpoints = state.settings.audit_checkpoint_file
    found = audit_checks.verify(session, audit.keys_of(session), checkpoints)
    broken = found.broken
    return ChainReport(
        events=found.events,
        intact=broken is None,
        broken_at=broken.event_id if broken else None,
        reason=broken.reason if broken else None,
    )
