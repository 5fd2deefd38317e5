"""The reason-for-default taxonomy (DESIGN §2): one list for the interview, the verdict,
the hardship advice and the borrower's own hardship report."""

from __future__ import annotations

REASONS = (
    "poor_money_management",
    "medical",
    "job_loss",
    "business_failure",
    "income_drop",
    "family_event",
    "product_misunderstood",
    "dispute",
    "fraud_or_identity_theft",
    "willful_evasion",
    "deceased_or_incapacitated",
    "other",
)
