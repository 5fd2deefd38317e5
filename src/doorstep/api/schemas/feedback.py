"""The lender's feedback feed: one item per verdict, money as yuan strings ("1234.56")."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class FeedbackItem(BaseModel):
    case_id: int
    loan_ids: list[str]
    visit_id: int
    checked_in_at: datetime
    checked_out_at: datetime | None
    reached: bool
    address_valid: str  # valid | invalid | moved
    reason: str | None  # primary reason, DESIGN §2 taxonomy
    reasons: list[str]
    hardship_or_evasion: str  # hardship | evasion | unclear
    ability: str | None  # yuan per month
    willingness: int | None  # 1..5
    ptp_amount: str | None  # yuan
    ptp_date: date | None
    next_step: str  # a manager's override wins
    reviewed_at: datetime | None
    verifier_ids: list[int]
    evidence_sha256: list[str]
    updated_at: datetime


class FeedbackPage(BaseModel):
    items: list[FeedbackItem]
    next_cursor: str | None  # pass back as `cursor`; null: nothing more for now
