"""API shapes for cases. Money leaves as yuan strings ("1234.56"), never floats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from doorstep.domain.bounds import INT32
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.money import format_yuan
from doorstep.domain.reveal import Purpose
from doorstep.store.models import Case


class CaseOut(BaseModel):
    id: int
    customer_id: str
    state: str
    hold_reason: str | None
    max_dpd: int
    bucket: str
    overdue_amount: str
    priority: int
    city: str | None
    district: str | None
    skip_trace: bool
    opened_on: date
    as_of: date
    version: int

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(
            id=case.id,
            customer_id=case.customer_id,
            state=case.state,
            hold_reason=case.hold_reason,
            max_dpd=case.max_dpd,
            bucket=case.bucket,
            overdue_amount=format_yuan(case.overdue_amount),
            priority=case.priority,
            city=case.city,
            district=case.district,
            skip_trace=case.skip_trace,
            opened_on=case.opened_on,
            as_of=case.as_of,
            version=case.version,
        )


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    per_page: int


class ContactPointOut(BaseModel):
    id: int
    channel: str
    kind: str
    masked: str
    source: str
    sources: list[str]  # every source of this value, kept as evidence
    point_ids: list[int]  # the rows of this value, one per source
    status: str
    confidence: float
    trust: float
    why: str
    observed_at: datetime
    city: str | None
    district: str | None


class LoanOut(BaseModel):
    loan_id: str
    product: str
    principal: str
    annual_rate: str
    term_months: int
    method: str
    disbursed_on: date
    dpd: int | None
    bucket: str | None
    overdue_total: str | None
    outstanding_principal: str | None


class CaseDetail(BaseModel):
    case: CaseOut
    customer_name: str
    id_number_masked: str
    loans: list[LoanOut]
    contact_points: list[ContactPointOut]
    best_phone_id: int | None
    best_address_id: int | None
    actions: list[str]


class ActionIn(BaseModel):
    action: str = Field(examples=["mark_ready", "hold", "release", "cancel"])
    reason: str | None = Field(default=None, max_length=500)
    hold_reason: str | None = Field(default=None, description="with hold: complaint, dispute, ...")
    cancel_reason: str | None = Field(default=None, description="with cancel: cured, paid, ...")
    version: int | None = Field(
        default=None, ge=0, le=INT32, description="optimistic lock: the version you saw"
    )


class AttemptIn(BaseModel):
    channel: AttemptChannel
    result: AttemptResult
    note: str | None = Field(default=None, max_length=500)


class RevealIn(BaseModel):
    field: Literal["id_number", "contact_point"]
    point_id: int | None = Field(default=None, ge=1, le=INT32)
    purpose: Purpose = Field(
        description="why: visit_preparation, contact_verification, borrower_request, "
        "complaint_handling, legal, or other (then say what in `reason`)"
    )
    reason: str | None = Field(None, max_length=300)


class RevealOut(BaseModel):
    value: str
