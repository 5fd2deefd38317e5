"""API shapes for privacy requests: what comes in is checked against the choices; what
goes out carries no personal data but the masked phone."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from doorstep.domain.privacy import ReceivedVia, RequestKind, Subject
from doorstep.store.models import PrivacyRequest


class PrivacyRequestIn(BaseModel):
    subject: Subject
    kind: RequestKind
    received_via: ReceivedVia
    customer_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=100)
    details: str | None = Field(None, max_length=2000)


class PrivacyActionIn(BaseModel):
    action: Literal["verify", "start", "complete", "refuse", "resume"]
    identified_by: Literal["callback", "id_document", "written"] | None = None
    text: str | None = Field(None, max_length=2000)
    version: int | None = Field(None, ge=1, le=2**31 - 1)


class LegalHoldOut(BaseModel):
    kind: str
    why: str
    lapses_on: date | None


class PrivacyRequestOut(BaseModel):
    id: int
    subject: str
    customer_id: str | None
    phone: str | None  # masked
    kind: str
    received_via: str
    identified_by: str | None
    received_on: date
    due_on: date
    overdue: bool
    state: str
    holds: list[LegalHoldOut]
    hold_lapses_on: date | None
    refusal: str | None
    outcome: str | None
    version: int

    @classmethod
    def of(cls, request: PrivacyRequest, overdue: bool) -> PrivacyRequestOut:
        return cls(
            id=request.id,
            subject=request.subject,
            customer_id=request.customer_id,
            phone=request.phone_masked or None,
            kind=request.kind,
            received_via=request.received_via,
            identified_by=request.identified_by,
            received_on=request.received_on,
            due_on=request.due_on,
            overdue=overdue,
            state=request.state,
            holds=[LegalHoldOut(**h) for h in request.holds or []],
            hold_lapses_on=request.hold_lapses_on,
            refusal=request.refusal,
            outcome=request.outcome,
            version=request.version,
        )


class PrivacyRequestPage(BaseModel):
    items: list[PrivacyRequestOut]
