"""ORM models, one module per noun; importing this package registers every table."""

from doorstep.store.models.audit import AuditEvent, AuditHead
from doorstep.store.models.base import Base
from doorstep.store.models.batch import BatchRun, BatchStep
from doorstep.store.models.case import Case, ContactAttempt
from doorstep.store.models.customer import ContactPoint, Customer
from doorstep.store.models.delinquency import (
    DelinquencySnapshot,
    RestatementDue,
    SnapshotRestatement,
)
from doorstep.store.models.figures import (
    BookFigure,
    FieldFigure,
    FieldFigureDay,
    OutcomeFigure,
    RollFigure,
    VisitOutcome,
)
from doorstep.store.models.identity import IdentityLink
from doorstep.store.models.ingest import ImportBatch, IngestChange
from doorstep.store.models.loan import Installment, Loan, Payment
from doorstep.store.models.offer import (
    ArchivedInstallment,
    Offer,
    PlanAgreement,
    ScheduleVersion,
)
from doorstep.store.models.outbox import OutboxEvent, WebhookDelivery, WebhookEndpoint
from doorstep.store.models.plan import PlanRoute, PlanStop, VisitPlan
from doorstep.store.models.portal import (
    BorrowerMessage,
    LearnRead,
    PortalCode,
    PortalSession,
    VisitSlot,
)
from doorstep.store.models.privacy import ContactSuppression, PrivacyRequest
from doorstep.store.models.quality import VisitQualityReview
from doorstep.store.models.reveal import RevealCounter, RevealRequest
from doorstep.store.models.rules import CaseHold, CustomerHold, RuleDecision
from doorstep.store.models.scoring import ModelDrift, ModelVersion, Score
from doorstep.store.models.throttle import Throttle
from doorstep.store.models.user import (
    ApiToken,
    Assignment,
    Team,
    TeamMember,
    User,
    UserSession,
)
from doorstep.store.models.visit import Alert, Evidence, PromiseToPay, Verdict, Visit
from doorstep.store.models.work import CaseTask

__all__ = [
    "Alert",
    "ApiToken",
    "ArchivedInstallment",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "BatchRun",
    "BatchStep",
    "BookFigure",
    "BorrowerMessage",
    "Case",
    "CaseHold",
    "CaseTask",
    "ContactAttempt",
    "ContactPoint",
    "ContactSuppression",
    "Customer",
    "CustomerHold",
    "DelinquencySnapshot",
    "Evidence",
    "FieldFigure",
    "FieldFigureDay",
    "IdentityLink",
    "ImportBatch",
    "IngestChange",
    "Installment",
    "LearnRead",
    "Loan",
    "ModelDrift",
    "ModelVersion",
    "Offer",
    "OutboxEvent",
    "OutcomeFigure",
    "Payment",
    "PlanAgreement",
    "PlanRoute",
    "PlanStop",
    "PortalCode",
    "PortalSession",
    "PrivacyRequest",
    "PromiseToPay",
    "RestatementDue",
    "RevealCounter",
    "RevealRequest",
    "RollFigure",
    "RuleDecision",
    "ScheduleVersion",
    "Score",
    "SnapshotRestatement",
    "Team",
    "TeamMember",
    "Throttle",
    "User",
    "UserSession",
    "Verdict",
    "Visit",
    "VisitOutcome",
    "VisitPlan",
    "VisitQualityReview",
    "VisitSlot",
    "WebhookDelivery",
    "WebhookEndpoint",
]
