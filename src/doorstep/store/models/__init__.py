"""ORM models, one module per noun; importing this package registers every table."""

from doorstep.store.models.base import Base
from doorstep.store.models.customer import ContactPoint, Customer
from doorstep.store.models.delinquency import DelinquencySnapshot
from doorstep.store.models.ingest import ImportBatch, IngestChange
from doorstep.store.models.loan import Installment, Loan, Payment

__all__ = [
    "Base",
    "ContactPoint",
    "Customer",
    "DelinquencySnapshot",
    "ImportBatch",
    "IngestChange",
    "Installment",
    "Loan",
    "Payment",
]
