"""Asking the conduct rules before acting: the question and the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from doorstep.domain.reveal import Purpose
from doorstep.services.cases.precheck import Proposed

Id = Annotated[int, Field(gt=0, le=2**31 - 1)]


class CheckIn(BaseModel):
    case_id: Id
    action: Proposed
    at: AwareDatetime | None = None  # now when absent
    point_id: Id | None = None  # the phone of a call or an SMS
    purpose: Purpose = Purpose.CONTACT_VERIFICATION  # of a reveal
    facts: dict[str, bool] | None = Field(None, max_length=30)  # e.g. agreed_time


class FiredOut(BaseModel):
    id: str
    severity: str
    message_zh: str
    message_en: str
    why: str


class CheckOut(BaseModel):
    outcome: str  # allowed | warned | blocked
    at: datetime
    rules: list[FiredOut]
