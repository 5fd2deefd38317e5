"""Privacy requests as a workflow (PIPL Arts 44–50): a borrower or a third party whose
phone we hold asks to see, correct or delete their data, or withdraws consent.

received → verified (identity checked, and how) → in progress → done, or refused with
the reasons (Art. 50), or deferred while a legal hold with a known end stands (then
resumed). Each request is due a configurable number of days after it came
(`Settings.privacy_request_days`, a policy setting: the law says "timely"). Every step
is an audit event filed under ("privacy_request", id). Staff act with
`HANDLE_PRIVACY_REQUESTS`; a signed-in borrower files their own through the portal.

Completing a deletion erases what no legal hold keeps: a borrower's personal data is
minimised and their messages, notes, evidence and change log deleted (`erasure`); a third
party's number and name leave every contact point holding it, and the number's keyed
hash goes on the do-not-contact list, so it is never called again."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Conflict, ContactErased, Forbidden, InvalidValue, NotFound
from doorstep.domain.identity import mask_phone
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.privacy import (
    Identified,
    ReceivedVia,
    RequestKind,
    State,
    Subject,
    due_on,
    step,
)
from doorstep.domain.rules import Pack
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services.conduct import audit
from doorstep.services.conduct.retention import Stores
from doorstep.store.models import ContactPoint, Customer, PrivacyRequest
from doorstep.store.repositories import privacy as repo

ERASED = "erased"
"""Prefix of an erased contact point's lookup hash (kept unique per point)."""
LEGAL_HOLD_TYPES = ("dispute", "written_dispute")
"""Case holds that mean a legal matter is open: the records are evidence."""
TEXT_MAX = 2000


@dataclass(frozen=True)
class NewRequest:
    subject: Subject
    kind: RequestKind
    received_via: ReceivedVia
    customer_id: str | None = None  # the borrower (or whose contact a third party is)
    phone: str | None = None  # a third party's number, as they give it
    name: str | None = None  # a third party's name
    details: str | None = None  # what they ask, in their words


@dataclass(frozen=True)
class Policy:
    """What the entry point passes in: the personal-data keys, the business zone, the
    deadline in days, the rule pack (the records duty) and where files are erased."""

    cipher: Cipher
    hasher: KeyedHasher
    zone: ZoneInfo
    days: int
    pack: Pack
    stores: Stores


def policy_of(settings: Settings, cipher: Cipher, hasher: KeyedHasher) -> Policy:
    """The deployment's policy: the evidence store and the dossier cache under var_dir
    (where `services.lender.dossier.cache_folder` puts it)."""
    return Policy(
        cipher,
        hasher,
        settings.zone,
        settings.privacy_request_days,
        settings.rules_pack,
        Stores(
            LocalEvidenceStore(settings.var_dir / "evidence"),
            settings.var_dir / "cache" / "dossiers",
        ),
    )


def require_handler(actor: Actor) -> None:
    if not actor.can(Permission.HANDLE_PRIVACY_REQUESTS):
        raise Forbidden(
            "privacy requests are handled by the compliance staff",
            message_zh="个人信息权利申请由合规人员处理",
        )


def clean_text(value: str | None, field: str, *, required: bool = False) -> str | None:
    cleaned = (value or "").strip()
    if required and len(cleaned) < 4:
        raise InvalidValue(
            f"{field}: say it in a few words (at least 4 characters)",
            message_zh=f"{field}：请简要说明（至少 4 个字）",
        )
    if len(cleaned) > TEXT_MAX:
        raise InvalidValue(
            f"{field}: at most {TEXT_MAX} characters", message_zh=f"{field}：最多 {TEXT_MAX} 个字"
        )
    return cleaned or None


def normal_phone(value: str) -> str:
    """A phone as the lender's files give it: ASCII digits (a leading + allowed), without
    spaces or dashes; full-width digits typed on a Chinese keyboard count as digits."""
    phone = "".join(unicodedata.normalize("NFKC", value).split()).replace("-", "")
    digits = phone.removeprefix("+")
    if not (7 <= len(digits) <= 20 and digits.isascii() and digits.isdigit()):
        raise InvalidValue("phone: 7 to 20 digits", message_zh="phone：电话号码应为 7 到 20 位数字")
    return phone


def _encrypted(cipher: Cipher, value: str | None) -> str | None:
    return cipher.encrypt(value) if value else None


def file_request(
    session: Session, actor: Actor, new: NewRequest, *, policy: Policy, now: datetime
) -> PrivacyRequest:
    """Receive a request (staff, from a call, a letter, a visit to the office...)."""
    require_handler(actor)
    return _file(session, actor, new, policy, now)


def _file(
    session: Session, actor: Actor, new: NewRequest, policy: Policy, now: datetime
) -> PrivacyRequest:
    if new.customer_id is not None and session.get(Customer, new.customer_id) is None:
        raise NotFound(f"no customer {new.customer_id!r}", message_zh="没有该客户")
    phone = normal_phone(new.phone) if new.phone else None
    if new.subject is Subject.BORROWER and new.customer_id is None:
        raise InvalidValue("customer: whose request is it?", message_zh="customer：请填写客户")
    if new.subject is Subject.THIRD_PARTY and phone is None:
        raise InvalidValue(
            "phone: a third party is found by their number", message_zh="phone：请填写第三方的电话"
        )
    received_on = now.astimezone(policy.zone).date()
    request = PrivacyRequest(
        subject=new.subject.value,
        customer_id=new.customer_id,
        phone=_encrypted(policy.cipher, phone),
        phone_hash=policy.hasher.digest(phone) if phone else None,
        phone_masked=mask_phone(phone) if phone else "",
        name=_encrypted(policy.cipher, clean_text(new.name, "name")),
        kind=new.kind.value,
        received_via=new.received_via.value,
        details=_encrypted(policy.cipher, clean_text(new.details, "details")),
        received_at=now,
        received_on=received_on,
        due_on=due_on(received_on, policy.days),
        state=State.RECEIVED.value,
    )
    session.add(request)
    session.flush()
    record_step(
        session,
        actor,
        "file",
        request,
        subject=request.subject,
        kind=request.kind,
        via=request.received_via,
        customer_id=request.customer_id,
        phone=request.phone_masked or None,
        due_on=request.due_on.isoformat(),
    )
    return request


def file_from_portal(
    session: Session,
    actor: Actor,
    customer_id: str,
    kind: RequestKind,
    details: str | None,
    *,
    policy: Policy,
    now: datetime,
) -> PrivacyRequest:
    """A signed-in borrower's own request (`actor` is the portal's borrower actor): the
    one-time code to the loan's mobile identified them, so it starts verified."""
    new = NewRequest(Subject.BORROWER, kind, ReceivedVia.PORTAL, customer_id, details=details)
    request = _file(session, actor, new, policy, now)
    move(session, actor, request, "verify", now)
    request.identified_by = Identified.PORTAL_SIGN_IN.value
    record_step(session, actor, "verify", request, identified_by=request.identified_by)
    return request


def record_step(
    session: Session,
    actor: Actor,
    step_name: str,
    request: PrivacyRequest,
    reason: str | None = None,
    **summary: object,
) -> None:
    audit.record(
        session,
        actor,
        f"privacy.{step_name}",
        "privacy_request",
        request.id,
        {"state": request.state, **summary},
        reason=reason,
    )


def get_request(session: Session, actor: Actor, request_id: int) -> PrivacyRequest:
    require_handler(actor)
    request = session.get(PrivacyRequest, request_id) if 0 < request_id < 2**31 else None
    if request is None:
        raise NotFound(
            f"no privacy request {request_id}", message_zh=f"没有个人信息申请 {request_id}"
        )
    return request


def move(
    session: Session,
    actor: Actor,
    request: PrivacyRequest,
    action: str,
    now: datetime,
    version: int | None = None,
) -> None:
    """The state after `action`, checked against the version the person saw."""
    if version is not None and version != request.version:
        raise Conflict(
            "someone else changed this request: reload it", message_zh="该申请已被他人修改，请刷新"
        )
    request.state = step(request.state, action).value
    request.handled_by = actor.user_id if actor.user_id is not None else request.handled_by
    if State(request.state) in (State.DONE, State.REFUSED, State.DEFERRED):
        request.closed_at = now
    session.flush()


def verify(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    identified_by: Identified,
    note: str | None,
    policy: Policy,
    now: datetime,
    version: int | None = None,
) -> PrivacyRequest:
    """The person's identity was checked: how, and a note of what was seen (encrypted)."""
    request = get_request(session, actor, request_id)
    if identified_by is Identified.PORTAL_SIGN_IN:
        raise InvalidValue(
            "identified_by: only the portal identifies by sign-in",
            message_zh="identified_by：仅门户登录可作此方式",
        )
    move(session, actor, request, "verify", now, version)
    request.identified_by = identified_by.value
    request.identity_note = _encrypted(policy.cipher, clean_text(note, "note"))
    record_step(session, actor, "verify", request, identified_by=identified_by.value)
    return request


def start(
    session: Session, actor: Actor, request_id: int, *, now: datetime, version: int | None = None
) -> PrivacyRequest:
    request = get_request(session, actor, request_id)
    move(session, actor, request, "start", now, version)
    record_step(session, actor, "start", request)
    return request


def refuse(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    reason: str,
    now: datetime,
    version: int | None = None,
) -> PrivacyRequest:
    """Refuse with the reasons the person is told (Art. 50)."""
    request = get_request(session, actor, request_id)
    text = clean_text(reason, "reason", required=True)
    move(session, actor, request, "refuse", now, version)
    request.refusal = text
    record_step(session, actor, "refuse", request, reason=text)
    return request


def resume(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    now: datetime,
    zone: ZoneInfo,
    version: int | None = None,
) -> PrivacyRequest:
    """A deferred request back in progress once its holds lapsed (then complete it: the
    holds are checked again)."""
    request = get_request(session, actor, request_id)
    today = now.astimezone(zone).date()
    if request.hold_lapses_on is not None and request.hold_lapses_on > today:
        raise InvalidValue(
            f"the legal hold lasts until {request.hold_lapses_on}",
            message_zh=f"法定保存义务持续至 {request.hold_lapses_on}",
        )
    move(session, actor, request, "resume", now, version)
    request.closed_at = None
    record_step(session, actor, "resume", request)
    return request


def assert_contactable(session: Session, point: ContactPoint) -> None:
    """Refuse a contact with a number erased on request, or that the lender sent again
    after its holder had it deleted."""
    if point.value_hash.startswith(ERASED) or repo.is_suppressed(session, point.value_hash):
        raise ContactErased()
