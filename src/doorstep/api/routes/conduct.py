"""`POST /api/conduct/check`: may I call, text, visit or reveal now? Asked before acting;
nothing is written."""

from __future__ import annotations

from fastapi import APIRouter

from doorstep.api.schemas.conduct import CheckIn, CheckOut, FiredOut
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.services.cases import precheck

router = APIRouter(prefix="/api/conduct", tags=["conduct"])


@router.post("/check", response_model=CheckOut)
def check(body: CheckIn, actor: CurrentActor, session: DbSession, state: State) -> CheckOut:
    at = body.at or state.clock.now()
    answer = precheck.ask(
        session,
        actor,
        body.case_id,
        body.action,
        at=at,
        pack=state.settings.rules_pack,
        point_id=body.point_id,
        purpose=body.purpose.value,
        facts=body.facts,
    )
    return CheckOut(outcome=answer.outcome, at=at, rules=[FiredOut(**r) for r in answer.rules])
