"""National IDs of many cases at once. Up to the pack's `bulk_threshold` they are revealed
at once, each through `contacts.reveal` (counted, checked and audited one by one); a
request for more waits for a second person, another manager of the cases' region or an
auditor (never the requester), whose approval lets the requester use it once while it
lasts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from doorstep.domain.ports import Cipher
from doorstep.domain.reveal import quota, stated_reason
from doorstep.domain.rules import Action, Pack, RevealContext, check
from doorstep.services.cases import contacts
from doorstep.services.conduct import audit, reveal_controls
from doorstep.store.models import Customer, RevealRequest
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import reveals as repo

MAX_CASES = 500
DECIDERS = {Role.ADMIN, Role.MANAGER, Role.AUDITOR}
FIELD = "id_number"


@dataclass(frozen=True)
class BulkOutcome:
    values: dict[int, str] | None = None  # case -> national ID, when revealed at once
    request: RevealRequest | None = None  # when it waits for a second approver


def request_reveal(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    case_ids: Sequence[int],
    *,
    purpose: str,
    pack: Pack,
    now: datetime,
    reason: str | None = None,
    request_id: str | None = None,
) -> BulkOutcome:
    """Reveal the national IDs of `case_ids` now, or file the request for approval when
    there are more than the pack's threshold."""
    wanted = list(dict.fromkeys(case_ids))
    if not 1 <= len(wanted) <= MAX_CASES:
        raise InvalidValue(
            f"case_ids: between 1 and {MAX_CASES} cases",
            message_zh=f"case_ids：案件数须在 1 到 {MAX_CASES} 之间",
        )
    chosen, stated = stated_reason(purpose, reason)
    limits = quota(pack)
    if limits is None or len(wanted) <= limits.bulk_threshold:
        values = {
            case_id: contacts.reveal(
                session,
                actor,
                cipher,
                case_id,
                field=FIELD,
                purpose=purpose,
                reason=reason,
                pack=pack,
                now=now,
                request_id=request_id,
            )
            for case_id in wanted
        }
        return BulkOutcome(values=values)
    if actor.role not in contacts.REVEAL_ROLES or actor.user_id is None:
        raise Forbidden(
            "your role cannot reveal personal data", message_zh="您的角色无权查看个人信息"
        )
    cities = _visible(session, actor, wanted, now)
    row = RevealRequest(
        requester_id=actor.user_id,
        requester=actor.username,
        field=FIELD,
        purpose=chosen.value,
        reason=stated,
        case_ids=wanted,
        cities=sorted(set(cities.values())),
        status=repo.PENDING,
        created_at=now,
    )
    session.add(row)
    session.flush()
    summary = {"cases": len(wanted), "field": FIELD, "purpose": chosen.value}
    audit.record(
        session,
        actor,
        "personal_data.bulk_request",
        "reveal_request",
        row.id,
        summary,
        reason=stated,
    )
    return BulkOutcome(request=row)


def _visible(session: Session, actor: Actor, case_ids: list[int], now: datetime) -> dict[int, str]:
    """Case -> city; NotFound naming the first case the actor may not see."""
    cities = repo.visible_cities(session, actor, case_ids, now)
    missing = [c for c in case_ids if c not in cities]
    if missing:
        raise NotFound(f"no case {missing[0]}", message_zh=f"没有案件 {missing[0]}")
    return cities


def may_decide(actor: Actor, row: RevealRequest) -> bool:
    """Someone else than the requester, who may decide and sees every city of it."""
    if actor.role not in DECIDERS or actor.user_id in (None, row.requester_id):
        return False
    regions = actor.regions if actor.role is Role.MANAGER else None
    return regions is None or set(row.cities) <= set(regions)


def require_decider(actor: Actor) -> None:
    if actor.role not in DECIDERS:
        raise Forbidden(
            "only a manager or an auditor decides a reveal request",
            message_zh="只有主管或审计员可以审批查看申请",
        )


def waiting_for(session: Session, actor: Actor) -> list[RevealRequest]:
    """The pending requests the actor may decide (the inbox of the alerts page)."""
    if actor.role not in DECIDERS:
        return []
    return [r for r in repo.requests_with_status(session, repo.PENDING) if may_decide(actor, r)]


def decide(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    approve: bool,
    pack: Pack,
    now: datetime,
    note: str | None = None,
) -> RevealRequest:
    """Approve (for the pack's `approval_hours`) or refuse another person's request."""
    require_decider(actor)
    row = _request(session, request_id)
    if row.requester_id == actor.user_id:
        raise Forbidden(
            "you cannot decide your own request: another manager or an auditor must",
            message_zh="不能审批自己的申请：须由另一名主管或审计员审批",
        )
    if not may_decide(actor, row):
        raise _no_request(request_id)
    limits = quota(pack)
    until = now + timedelta(hours=limits.approval_hours if limits else 8)
    if not repo.decide(
        session, row.id, actor.user_id or 0, approve=approve, at=now, until=until, note=note
    ):
        raise Conflict(
            f"reveal request {request_id} is {row.status}, not pending",
            message_zh=f"查看申请 {request_id} 已处理",
        )
    session.refresh(row)
    action = "personal_data.bulk_approve" if approve else "personal_data.bulk_refuse"
    summary = {"requester": row.requester, "cases": len(row.case_ids)}
    audit.record(session, actor, action, "reveal_request", row.id, summary, reason=note)
    return row


def use(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    request_id: int,
    *,
    pack: Pack,
    now: datetime,
    http_request_id: str | None = None,
) -> dict[int, str]:
    """The requester reveals the national IDs of an approved request, once, while the
    approval lasts; each reveal passes the conduct rules and is audited under its case
    (the approval stands in for the person's rate and daily ceiling)."""
    row = _request(session, request_id)
    if row.requester_id != actor.user_id:
        raise _no_request(request_id)
    if not repo.claim(session, row.id, row.requester_id, now):
        raise Conflict(
            f"reveal request {request_id} is {row.status}: not approved, used or expired",
            message_zh=f"查看申请 {request_id} 未获批准、已使用或已过期",
        )
    _visible(session, actor, list(row.case_ids), now)
    values: dict[int, str] = {}
    for case_id in row.case_ids:
        case = case_repo.get_visible(session, actor, case_id)
        assert case is not None
        live = case_repo.has_live_assignment(session, actor.team_ids, case_id, now)
        decision = check(
            Action.REVEAL_PERSONAL_DATA, RevealContext(actor.role.value, row.purpose, live), pack
        )
        if decision.blocked:
            raise reveal_controls.refusal(decision, pack)
        customer = session.get(Customer, case.customer_id)
        if customer is None or not customer.id_number:
            continue  # minimised under the retention rules: nothing left to show
        values[case_id] = cipher.decrypt(customer.id_number)
        summary = {"customer_id": case.customer_id, "field": FIELD, "contact_point": None}
        audit.record(
            session,
            actor,
            "personal_data.reveal",
            "case",
            case_id,
            {**summary, "purpose": row.purpose, "reveal_request": row.id},
            reason=row.reason,
            request_id=http_request_id,
        )
    return values


def _request(session: Session, request_id: int) -> RevealRequest:
    row = session.get(RevealRequest, request_id) if 0 < request_id <= case_repo.MAX_ID else None
    if row is None:
        raise _no_request(request_id)
    return row


def _no_request(request_id: int) -> NotFound:
    return NotFound(f"no reveal request {request_id}", message_zh=f"没有查看申请 {request_id}")
