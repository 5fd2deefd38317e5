"""Contact points: confirmation attempts, the best phone and address with the reason, and
revealing personal data (with a reason that is audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission, Role
from doorstep.domain.contact import (
    AttemptChannel,
    AttemptResult,
    ContactStatus,
    after_attempt,
    effective_confidence,
)
from doorstep.domain.errors import DoorstepError, NotFound
from doorstep.domain.ports import Cipher
from doorstep.services import audit
from doorstep.services.cases import Forbidden, get_case
from doorstep.store.models import ContactAttempt, ContactPoint, Customer
from doorstep.store.repositories import cases as repo


@dataclass(frozen=True)
class RankedContact:
    point: ContactPoint
    trust: float
    why: str


def ranked(session: Session, customer_id: str, now: datetime | None = None) -> list[RankedContact]:
    """Every contact point, most trusted first, each with why it is trusted that much."""
    now = now or datetime.now(UTC)
    out = []
    points = repo.contact_points_of(session, customer_id)
    attempted = repo.last_attempts(session, [p.id for p in points])
    for point in points:
        seen = max(point.observed_at, attempted.get(point.id, point.observed_at))
        age = (now - seen).total_seconds() / 86400
        trust = (
            0.0
            if point.status == ContactStatus.INVALID
            else effective_confidence(point.confidence, age)
        )
        why = (
            f"{point.status}, source {point.source}, confidence {point.confidence:.2f}, "
            f"last evidence {age:.0f} days ago → {trust:.2f}"
        )
        out.append(RankedContact(point, trust, why))
    return sorted(out, key=lambda r: (r.point.channel, -r.trust))


def best(ranked_points: list[RankedContact], channel: str) -> RankedContact | None:
    usable = [r for r in ranked_points if r.point.channel == channel and r.trust > 0]
    return max(usable, key=lambda r: r.trust, default=None)


def _point_in_case(session: Session, actor: Actor, case_id: int, point_id: int) -> ContactPoint:
    case = get_case(session, actor, case_id)
    point = session.get(ContactPoint, point_id) if 0 < point_id <= repo.MAX_ID else None
    if point is None or point.customer_id != case.customer_id:
        raise NotFound(
            f"no contact point {point_id} in case {case_id}",
            message_zh=f"案件 {case_id} 中没有联系方式 {point_id}",
        )
    return point


def record_attempt(
    session: Session,
    actor: Actor,
    case_id: int,
    point_id: int,
    channel: AttemptChannel,
    result: AttemptResult,
    note: str | None = None,
) -> ContactPoint:
    """Log one confirmation attempt and update the point's status and confidence."""
    if not actor.can(Permission.RECORD_ATTEMPTS):
        raise Forbidden("your role cannot record attempts", message_zh="您的角色无权登记联系结果")
    point = _point_in_case(session, actor, case_id, point_id)
    if result is AttemptResult.WRONG_NUMBER and point.channel != "phone":
        raise DoorstepError(
            "wrong number applies to phones only", message_zh="“号码错误”仅适用于电话"
        )
    if result is AttemptResult.MOVED and point.channel != "address":
        raise DoorstepError("moved applies to addresses only", message_zh="“已搬离”仅适用于地址")
    before = (point.status, point.confidence)
    status, confidence = after_attempt(point.status, point.confidence, channel, result)
    point.status, point.confidence = status.value, confidence
    session.add(
        ContactAttempt(
            contact_point_id=point.id,
            case_id=case_id,
            channel=channel.value,
            result=result.value,
            note=note,
            actor_id=actor.user_id,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "contact.attempt",
        "case",
        case_id,
        {
            "contact_point": point.id,
            "channel": channel.value,
            "result": result.value,
            "status": [before[0], status.value],
            "confidence": [before[1], confidence],
        },
    )
    return point


REVEAL_ROLES = {Role.ADMIN, Role.MANAGER, Role.VERIFIER}


def reveal(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    case_id: int,
    *,
    field: str,
    point_id: int | None = None,
    reason: str,
    request_id: str | None = None,
) -> str:
    """The clear value of a national ID or a contact point of a case the actor may see,
    for a stated reason; every reveal is an audit event."""
    if not actor.can(Permission.REVEAL_PERSONAL_DATA) or actor.role not in REVEAL_ROLES:
        raise Forbidden(
            "your role cannot reveal personal data", message_zh="您的角色无权查看个人信息"
        )
    if len(reason.strip()) < 4:
        raise DoorstepError(
            "say why you need to see it (at least 4 characters)",
            message_zh="请说明查看原因（至少 4 个字）",
        )
    case = get_case(session, actor, case_id)
    if field == "id_number":
        customer = session.get(Customer, case.customer_id)
        assert customer is not None
        value = cipher.decrypt(customer.id_number)
    elif field == "contact_point" and point_id is not None:
        value = cipher.decrypt(_point_in_case(session, actor, case_id, point_id).value)
    else:
        raise DoorstepError(f"cannot reveal {field!r}")
    # Filed under the case, so the case's timeline shows who saw what and why.
    audit.record(
        session,
        actor,
        "personal_data.reveal",
        "case",
        case_id,
        {"customer_id": case.customer_id, "field": field, "contact_point": point_id},
        reason=reason.strip(),
        request_id=request_id,
    )
    return value
