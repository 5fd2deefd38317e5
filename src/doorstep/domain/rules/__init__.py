"""Conduct rules as code (DESIGN §2 "Rule"): jurisdiction packs as data (`packs/*.toml`),
a deployment's overrides, and `check(action, context, pack) -> Decision`. Stdlib only."""

from doorstep.domain.errors import PackError
from doorstep.domain.rules.engine import check
from doorstep.domain.rules.model import (
    CONTEXTS,
    THIRD_PARTIES,
    Action,
    AssignContext,
    Channel,
    CheckInContext,
    ContactContext,
    Context,
    Decision,
    Fired,
    OfferContext,
    Outcome,
    PlanVisitContext,
    Relation,
    RevealContext,
    Rule,
    Severity,
)
from doorstep.domain.rules.pack import JURISDICTIONS, Pack, capitalisation_allowed, load

__all__ = [
    "CONTEXTS",
    "JURISDICTIONS",
    "THIRD_PARTIES",
    "Action",
    "AssignContext",
    "Channel",
    "CheckInContext",
    "ContactContext",
    "Context",
    "Decision",
    "Fired",
    "OfferContext",
    "Outcome",
    "Pack",
    "PackError",
    "PlanVisitContext",
    "Relation",
    "RevealContext",
    "Rule",
    "Severity",
    "capitalisation_allowed",
    "check",
    "load",
]
