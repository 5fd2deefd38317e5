"""ORM models, one module per noun; importing this package registers every table."""

from doorstep.store.models.audit import AuditEvent, AuditHead
from doorstep.store.models.base import Base
from doorstep.store.models.case import Case, ContactAttempt
from doorstep.store.models.customer import ContactPoint, Customer
from doorstep.store.models.delinquency import DelinquencySnapshot
from doorstep.store.models.ingest import ImportBatch, IngestChange
from doorstep.store.models.loan import Installment, Loan, Payment
from doorstep.store.models.plan import PlanRoute, PlanStop, VisitPlan
from doorstep.store.models.user import ApiToken, Assignment, LoginFailure, Team, TeamMember, User
from doorstep.store.models.visit import Alert, Evidence, PromiseToPay, Verdict, Visit

__all__ = [
    "Alert",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Case",
    "ContactAttempt",
    "ContactPoint",
    "Customer",
    "DelinquencySnapshot",
    "Evidence",
    "ImportBatch",
    "IngestChange",
    "Installment",
    "Loan",
    "LoginFailure",
    "Payment",
    "PlanRoute",
    "PlanStop",
    "PromiseToPay",
    "Team",
    "TeamMember",
    "User",
    "Verdict",
    "Visit",
    "VisitPlan",
]
