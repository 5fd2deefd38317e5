"""Disputes, the customer's holds, and the visit-interval override, as the API sees them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from doorstep.services.cases.disputes import DisputeKind, DisputeOutcome
from doorstep.store.models import CustomerHold


class DisputeIn(BaseModel):
    kind: DisputeKind
    note: str = Field(min_length=1, max_length=2000)


class ResolveIn(BaseModel):
    outcome: DisputeOutcome
    note: str = Field(min_length=1, max_length=2000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class HoldOut(BaseModel):
    id: int
    customer_id: str
    type: str
    detail: str | None
    started_at: datetime
    ends_at: datetime | None
    respond_by: datetime | None
    lifted_at: datetime | None
    outcome: str | None

    @classmethod
    def of(cls, h: CustomerHold) -> HoldOut:
        return cls(
            id=h.id,
            customer_id=h.customer_id,
            type=h.type,
            detail=h.detail,
            started_at=h.started_at,
            ends_at=h.ends_at,
            respond_by=h.respond_by,
            lifted_at=h.lifted_at,
            outcome=h.outcome,
        )


class OverrideOut(BaseModel):
    case_id: int
    reason: str
    at: datetime
