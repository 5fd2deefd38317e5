"""What the staff see of privacy requests: the list with each deadline (overdue ones
first to the eye) and one request with its texts decrypted, its holds and its trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.ports import Cipher
from doorstep.domain.privacy import OPEN, State, Subject, overdue
from doorstep.services.conduct import audit
from doorstep.services.conduct.privacy_requests import get_request, require_handler
from doorstep.store.models import AuditEvent, PrivacyRequest
from doorstep.store.repositories import privacy as repo


@dataclass(frozen=True)
class RequestRow:
    request: PrivacyRequest
    overdue: bool  # open after its deadline
    days_left: int  # negative: days late
    hold_lapsed: bool  # deferred, and its hold has lapsed: act now

    @property
    def needs_action(self) -> bool:
        return self.overdue or self.hold_lapsed


def _row(request: PrivacyRequest, today: date) -> RequestRow:
    lapsed = (
        request.state == State.DEFERRED
        and request.hold_lapses_on is not None
        and request.hold_lapses_on <= today
    )
    return RequestRow(
        request,
        overdue(request.state, request.due_on, today),
        (request.due_on - today).days,
        lapsed,
    )


def listing(
    session: Session, actor: Actor, today: date, *, everything: bool = False
) -> list[RequestRow]:
    """Open and deferred requests, the earliest deadline first (every request with
    `everything`)."""
    require_handler(actor)
    states = None if everything else [*(s.value for s in OPEN), State.DEFERRED.value]
    return [_row(r, today) for r in repo.requests_in(session, states)]


@dataclass(frozen=True)
class RequestView:
    row: RequestRow
    name: str | None
    details: str | None
    identity_note: str | None
    trail: list[AuditEvent]

    @property
    def request(self) -> PrivacyRequest:
        return self.row.request


def view(
    session: Session, actor: Actor, request_id: int, cipher: Cipher, today: date
) -> RequestView:
    """One request as its handler sees it: the texts the person gave in clear (the
    handler needs them to act), the phone masked, and every step's audit event."""
    request = get_request(session, actor, request_id)

    def clear(token: str | None) -> str | None:
        return cipher.decrypt(token) if token else None

    return RequestView(
        _row(request, today),
        clear(request.name),
        clear(request.details),
        clear(request.identity_note),
        audit.timeline(session, "privacy_request", request.id),
    )


def summary(request: PrivacyRequest) -> dict[str, Any]:
    """The request as JSON, without any personal data but the masked phone."""
    return {
        "id": request.id,
        "subject": request.subject,
        "customer_id": request.customer_id,
        "phone": request.phone_masked or None,
        "kind": request.kind,
        "received_via": request.received_via,
        "identified_by": request.identified_by,
        "received_on": request.received_on.isoformat(),
        "due_on": request.due_on.isoformat(),
        "state": request.state,
        "holds": request.holds or [],
        "hold_lapses_on": request.hold_lapses_on.isoformat() if request.hold_lapses_on else None,
        "refusal": request.refusal,
        "outcome": request.outcome,
        "version": request.version,
    }


def requests_of_borrower(session: Session, customer_id: str) -> list[PrivacyRequest]:
    """A signed-in borrower's own requests (the portal shows where each stands)."""
    mine = repo.requests_of_customer(session, customer_id)
    return [r for r in mine if r.subject == Subject.BORROWER]
