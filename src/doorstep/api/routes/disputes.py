"""Disputes and the customer's holds from a case: open a dispute, answer it (the lender
is told), list and lift the customer's open holds, and let a case visited within the
visit interval be planned (`services.cases.dispute_desk`)."""

from __future__ import annotations

from fastapi import APIRouter

from doorstep.api.schemas.disputes import DisputeIn, HoldOut, OverrideOut, ReasonIn, ResolveIn
from doorstep.http.context import CurrentActor, DbSession, State
from doorstep.http.params import RowId
from doorstep.services.cases import dispute_desk

router = APIRouter(prefix="/api", tags=["disputes"])


@router.get("/cases/{case_id}/holds", response_model=list[HoldOut])
def holds_of(
    case_id: RowId, actor: CurrentActor, session: DbSession, state: State
) -> list[HoldOut]:
    found = dispute_desk.customer_holds(session, actor, case_id, state.clock.now())
    return [HoldOut.of(h) for h in found]


@router.post("/cases/{case_id}/disputes", response_model=HoldOut, status_code=201)
def open_(
    case_id: RowId, body: DisputeIn, actor: CurrentActor, session: DbSession, state: State
) -> HoldOut:
    now = state.clock.now()
    hold = dispute_desk.open_for_case(session, actor, case_id, body.kind, body.note, now)
    session.commit()
    return HoldOut.of(hold)


@router.post("/disputes/{hold_id}/resolve", response_model=HoldOut)
def resolve(
    hold_id: RowId, body: ResolveIn, actor: CurrentActor, session: DbSession, state: State
) -> HoldOut:
    now = state.clock.now()
    hold = dispute_desk.resolve(session, actor, hold_id, body.outcome, body.note, now)
    session.commit()
    return HoldOut.of(hold)


@router.post("/cases/{case_id}/holds/{hold_id}/lift", response_model=HoldOut)
def lift(
    case_id: RowId,
    hold_id: RowId,
    body: ReasonIn,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> HoldOut:
    now = state.clock.now()
    hold = dispute_desk.lift(session, actor, case_id, hold_id, body.reason, now)
    session.commit()
    return HoldOut.of(hold)


@router.post("/cases/{case_id}/visit-interval-override", response_model=OverrideOut)
def override_interval(
    case_id: RowId, body: ReasonIn, actor: CurrentActor, session: DbSession, state: State
) -> OverrideOut:
    now = state.clock.now()
    dispute_desk.override_interval(
        session, actor, case_id, body.reason, pack=state.settings.rules_pack, now=now
    )
    session.commit()
    return OverrideOut(case_id=case_id, reason=body.reason.strip(), at=now)
