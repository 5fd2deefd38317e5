"""Feedback to the lender, as its callers know it: the webhook endpoints and their dead
letters (`endpoints`), the delivery worker (`delivery`) and the feedback feed (`feed`).
The outbox that queues the deliveries is `outbox`."""

from __future__ import annotations

from doorstep.integrations.destinations import Destinations
from doorstep.services.lender.delivery import (
    DeliveryRun,
    Job,
    RetryPolicy,
    claim_due,
    deliver_due,
    due_deliveries,
    record_result,
)
from doorstep.services.lender.endpoints import (
    DeadLetter,
    add_endpoint,
    dead_letters,
    list_endpoints,
    retry_dead,
)
from doorstep.services.lender.feed import (
    FEEDBACK_COLUMNS,
    MAX_PAGE,
    csv_cells,
    daily_file,
    decode_cursor,
    encode_cursor,
    feedback_page,
    feedback_record,
    iter_feedback,
    write_daily_file,
    write_feedback,
)
from doorstep.services.lender.permission import require
from doorstep.store.repositories.outbox import DEAD, DELIVERED, PENDING

__all__ = [
    "DEAD",
    "DELIVERED",
    "FEEDBACK_COLUMNS",
    "MAX_PAGE",
    "PENDING",
    "DeadLetter",
    "DeliveryRun",
    "Destinations",
    "Job",
    "RetryPolicy",
    "add_endpoint",
    "claim_due",
    "csv_cells",
    "daily_file",
    "dead_letters",
    "decode_cursor",
    "deliver_due",
    "due_deliveries",
    "encode_cursor",
    "feedback_page",
    "feedback_record",
    "iter_feedback",
    "list_endpoints",
    "record_result",
    "require",
    "retry_dead",
    "write_daily_file",
    "write_feedback",
]
