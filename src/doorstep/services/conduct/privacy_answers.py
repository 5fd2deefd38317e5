"""Answering a privacy request: an access request once its copy was handed over, a
correction or a borrower's withdrawal of consent with what was done, and a deletion
(or a third party's withdrawal of consent) unless a legal hold stands in the way."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import InvalidValue
from doorstep.domain.privacy import (
    DeletionFacts,
    Identified,
    RequestKind,
    Subject,
    deletion_holds,
    held_until,
    step,
)
from doorstep.domain.rules import Pack
from doorstep.services.conduct import audit, erasure
from doorstep.services.conduct.privacy_requests import (
    ERASED,
    LEGAL_HOLD_TYPES,
    Policy,
    clean_text,
    get_request,
    move,
    record_step,
    refuse,
    resume,
    start,
    verify,
)
from doorstep.services.conduct.retention import Stores, minimise_personal_data, records_years
from doorstep.store.models import ContactSuppression, PrivacyRequest
from doorstep.store.repositories import privacy as repo


def complete(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    policy: Policy,
    now: datetime,
    outcome: str | None = None,
    version: int | None = None,
) -> PrivacyRequest:
    """Answer the request: an access request once its export was handed over; a
    deletion (or a third party's withdrawal of consent) unless a legal hold stands —
    then it is refused, or deferred when every hold has a known end; a correction or a
    borrower's withdrawal of consent with what was done, in words."""
    request = get_request(session, actor, request_id)
    step(request.state, "complete")  # refuse early, before any erasure
    kind = RequestKind(request.kind)
    erases = kind is RequestKind.DELETE or (
        kind is RequestKind.WITHDRAW_CONSENT and request.subject == Subject.THIRD_PARTY
    )
    if erases:
        return _delete(session, actor, request, policy, now, version)
    text = clean_text(outcome, "outcome", required=kind is not RequestKind.ACCESS)
    if kind is RequestKind.ACCESS:
        copies = [
            e.summary["sha256"]
            for e in audit.timeline(session, "privacy_request", request.id)
            if e.action == "privacy.export"
        ]
        if not copies:
            raise InvalidValue(
                "make the export and hand it over first",
                message_zh="请先生成并交付个人信息副本",
            )
        text = f"copy handed over: sha256 {copies[-1]}" + (f"; {text}" if text else "")
    move(session, actor, request, "complete", now, version)
    request.outcome = text
    record_step(session, actor, "complete", request, outcome=request.outcome)
    return request


def _facts(session: Session, request: PrivacyRequest, pack: Pack, now: datetime) -> DeletionFacts:
    subject = Subject(request.subject)
    customers = (
        sorted({p.customer_id for p in repo.points_with_hash(session, request.phone_hash or "")})
        if subject is Subject.THIRD_PARTY
        else [request.customer_id or ""]
    )
    disputes = [
        (why, ends.date() if ends else None)
        for customer_id in customers
        for why, ends in repo.legal_matters(session, customer_id, LEGAL_HOLD_TYPES, now)
    ]
    if subject is Subject.THIRD_PARTY:
        return DeletionFacts(subject, disputes=tuple(disputes))
    customer_id = customers[0]
    open_cases = [
        f"case {c.id}" for c in repo.cases_of(session, customer_id) if c.state not in _OVER
    ]
    last = repo.last_collection_activity(session, customer_id)
    _, years = records_years(pack)
    until = (last + timedelta(days=round(365.25 * years))).date() if last else None
    return DeletionFacts(
        subject,
        open_loans=tuple(repo.unpaid_loans(session, customer_id) + open_cases),
        disputes=tuple(disputes),
        records_until=until,
    )


_OVER = frozenset({"closed", "cancelled"})


def _delete(
    session: Session,
    actor: Actor,
    request: PrivacyRequest,
    policy: Policy,
    now: datetime,
    version: int | None,
) -> PrivacyRequest:
    today = now.astimezone(policy.zone).date()
    holds = deletion_holds(_facts(session, request, policy.pack, now), today)
    if holds:
        lapses = held_until(holds)
        action = "defer" if lapses else "refuse"
        move(session, actor, request, action, now, version)
        request.holds = [h.to_json() for h in holds]
        request.hold_lapses_on = lapses
        request.refusal = "; ".join(h.why for h in holds)
        record_step(session, actor, action, request, holds=request.holds)
        return request
    move(session, actor, request, "complete", now, version)  # the version, before any erasure
    if request.subject == Subject.THIRD_PARTY:
        done = _erase_number(session, request)
    else:
        done = _erase_borrower(session, request, policy.stores, today)
    request.holds, request.hold_lapses_on = None, None
    request.outcome = ", ".join(f"{k} {v}" for k, v in done.items())
    record_step(session, actor, "complete", request, erased=done)
    return request


def _erase_number(session: Session, request: PrivacyRequest) -> dict[str, int]:
    """The third party's number and name leave every contact point holding them and the
    change log of those points; the number's keyed hash goes on the do-not-contact list;
    the request keeps only the masked number and the hash."""
    digest = request.phone_hash or ""
    points = repo.points_with_hash(session, digest)
    changes = repo.delete_point_changes(session, points)  # by the keys before erasure
    for point in points:
        point.value, point.value_hash, point.value_masked = "", f"{ERASED}-{point.id}", "***"
        point.position = point.position_hash = None
        point.extra = {"erased_by_request": request.id}
        point.status, point.confidence = "invalid", 0.0
    repo.clear_attempt_notes(session, [p.id for p in points])
    if not repo.is_suppressed(session, digest):
        session.add(ContactSuppression(channel="phone", value_hash=digest, request_id=request.id))
    request.phone = request.name = None
    session.flush()
    return {"contact_points": len(points), "changes": changes}


def _erase_borrower(
    session: Session, request: PrivacyRequest, stores: Stores, today: date
) -> dict[str, int]:
    customer_id = request.customer_id or ""
    minimise_personal_data(session, [customer_id])
    erased = erasure.erase_records(session, [customer_id], stores.evidence)
    case_ids = [c.id for c in repo.cases_of(session, customer_id)]
    cached = erasure.sweep_dossier_cache(stores.dossier_cache, today, case_ids)
    return {"customers": 1, **erased.to_json(), "cached_dossiers": cached}


ACTIONS = ("verify", "start", "complete", "refuse", "resume")
"""The steps a handler takes by name (pages, API, command line)."""


def take(
    session: Session,
    actor: Actor,
    request_id: int,
    action: str,
    *,
    policy: Policy,
    now: datetime,
    identified_by: str | None = None,
    text: str | None = None,
    version: int | None = None,
) -> PrivacyRequest:
    """One step by name: `text` is the identity note (verify), the reasons (refuse) or
    what was done (complete)."""
    if action == "verify":
        try:
            how = Identified(identified_by or "")
        except ValueError:
            raise InvalidValue(
                f"identified_by: one of {', '.join(i.value for i in Identified)}",
                message_zh="identified_by：请选择核实身份的方式",
            ) from None
        return verify(
            session,
            actor,
            request_id,
            identified_by=how,
            note=text,
            policy=policy,
            now=now,
            version=version,
        )
    if action == "start":
        return start(session, actor, request_id, now=now, version=version)
    if action == "complete":
        return complete(
            session, actor, request_id, policy=policy, now=now, outcome=text, version=version
        )
    if action == "refuse":
        return refuse(session, actor, request_id, reason=text or "", now=now, version=version)
    if action == "resume":
        return resume(session, actor, request_id, now=now, zone=policy.zone, version=version)
    raise InvalidValue(f"unknown action {action!r}", message_zh=f"未知的操作 {action!r}")
