"""ORM models, one module per noun; importing this package registers every table."""

from doorstep.store.models.audit import AuditEvent, AuditHead
from doorstep.store.models.base import Base
from doorstep.store.models.case import Case, ContactAttempt
from doorstep.store.models.customer import ContactPoint, Customer
from doorstep.store.models.delinquency import DelinquencySnapshot
from doorstep.store.models.ingest import ImportBatch, IngestChange
from doorstep.store.models.loan import Installment, Loan, Payment
from doorstep.store.models.user import ApiToken, Assignment, LoginFailure, Team, TeamMember, User

__all__ = [
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
    "ImportBatch",
    "IngestChange",
    "Installment",
    "Loan",
    "LoginFailure",
    "Payment",
    "Team",
    "TeamMember",
    "User",
]
