from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from doorstep.http.context import CurrentActor

router = APIRouter(prefix="/api", tags=["me"])


class Me(BaseModel):
    username: str
    role: str
    regions: list[str] | None
    teams: list[int]


@router.get("/me", response_model=Me)
def me(actor: CurrentActor) -> Me:
    return Me(
        username=actor.username,
        role=actor.role.value,
        regions=sorted(actor.regions) if actor.regions is not None else None,
        teams=sorted(actor.team_ids),
    )
