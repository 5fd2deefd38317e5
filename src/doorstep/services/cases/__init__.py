"""Cases: opening them from the day's delinquency by the selection policy (`selection`),
moving them through their states — one way, `apply` (`transitions`) — finding them as a
user may see them (`lookup`), contact points (`contacts`), and the case page
(`view`)."""

from __future__ import annotations

from doorstep.domain.case import POLICY, Caller
from doorstep.services.cases.lookup import CaseFilter, case_ids_of, get_case, list_visible
from doorstep.services.cases.selection import SelectionReport, select_cases
from doorstep.services.cases.transitions import (
    LENDER_TOPICS,
    act,
    actions_for,
    apply,
    expire_holds,
)

__all__ = [
    "LENDER_TOPICS",
    "POLICY",
    "Caller",
    "CaseFilter",
    "SelectionReport",
    "act",
    "actions_for",
    "apply",
    "case_ids_of",
    "expire_holds",
    "get_case",
    "list_visible",
    "select_cases",
]
