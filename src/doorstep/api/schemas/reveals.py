"""Bulk reveals of national IDs: the request, its decision, what comes back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from doorstep.domain.reveal import Purpose
from doorstep.services.cases.bulk_reveal import MAX_CASES
from doorstep.store.models import RevealRequest

CaseId = Annotated[int, Field(gt=0, le=2**31 - 1)]


class BulkRevealIn(BaseModel):
    case_ids: list[CaseId] = Field(min_length=1, max_length=MAX_CASES)
    purpose: Purpose
    reason: str | None = Field(None, max_length=300)


class DecisionIn(BaseModel):
    approve: bool
    note: str | None = Field(None, max_length=500)


class RevealRequestOut(BaseModel):
    id: int
    status: str
    requester: str
    cases: int
    cities: list[str]
    purpose: str
    reason: str
    created_at: datetime
    approved_until: datetime | None

    @classmethod
    def of(cls, row: RevealRequest) -> RevealRequestOut:
        return cls(
            id=row.id,
            status=row.status,
            requester=row.requester,
            cases=len(row.case_ids),
            cities=list(row.cities),
            purpose=row.purpose,
            reason=row.reason,
            created_at=row.created_at,
            approved_until=row.approved_until,
        )


class BulkRevealOut(BaseModel):
    """`revealed`: the values now; `pending`: the request waits for a second approver."""

    status: Literal["revealed", "pending"]
    values: dict[int, str] = Field(default_factory=dict)
    request: RevealRequestOut | None = None
