"""Contact points: confirmation attempts, the best phone and address with the reason, and
revealing personal data (with a reason that is audited)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission, Role
from doorstep.domain.contact import (
    AttemptChannel,
    AttemptResult,
    ContactStatus,
    after_attempt,
)
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.domain.ports import Cipher
from doorstep.domain.reveal import stated_reason
from doorstep.domain.rules import (
    THIRD_PARTIES,
    Action,
    Channel,
    ContactContext,
    Decision,
    Outcome,
    Pack,
    Relation,
    RevealContext,
    check,
)
from doorstep.services.cases.lookup import get_case
from doorstep.services.cases.ranking import RankedContact as RankedContact
from doorstep.services.cases.ranking import best as best
from doorstep.services.cases.ranking import ranked as ranked
from doorstep.services.cases.ranking import ranked_many as ranked_many
from doorstep.services.conduct import audit, personal_data, privacy_requests, reveal_controls
from doorstep.services.conduct import decisions as rules_service
from doorstep.services.conduct.holds import hold_types
from doorstep.store.models import Case, ContactAttempt, ContactPoint, Customer
from doorstep.store.repositories import cases as repo
from doorstep.store.repositories import conduct as log


def point_in_case(session: Session, actor: Actor, case_id: int, point_id: int) -> ContactPoint:
    case = get_case(session, actor, case_id)
    point = session.get(ContactPoint, point_id) if 0 < point_id <= repo.MAX_ID else None
    if point is None or point.customer_id != case.customer_id:
        raise NotFound(
            f"no contact point {point_id} in case {case_id}",
            message_zh=f"案件 {case_id} 中没有联系方式 {point_id}",
        )
    return point


CHANNELS = {
    AttemptChannel.CALL: Channel.CALL,
    AttemptChannel.SMS: Channel.SMS,
    AttemptChannel.THIRD_PARTY: Channel.CALL,
    AttemptChannel.FIELD: Channel.VISIT_TALK,
}
CONNECTED = {AttemptResult.REACHED, AttemptResult.CONFIRMED}


def relation_of(point: ContactPoint, channel: AttemptChannel) -> Relation:
    """The relation class of the person behind a contact point: the debtor's own phones and
    addresses, a guarantor, or a third party (an emergency contact, a colleague, ...)."""
    relation = (point.relation or "").strip().lower()
    if relation == "guarantor":
        return Relation.GUARANTOR
    if relation in ("unrelated", "unrelated_third_party"):
        return Relation.UNRELATED_THIRD_PARTY
    if (
        channel is AttemptChannel.THIRD_PARTY
        or point.kind == "emergency"
        or relation not in ("", "self", "debtor", "本人")
    ):
        return Relation.RELATED_THIRD_PARTY
    return Relation.DEBTOR


@dataclass(frozen=True)
class AttemptOutcome:
    point: ContactPoint
    attempt: ContactAttempt
    decision: Decision


def contact_context(
    session: Session,
    point: ContactPoint,
    case_id: int,
    channel: AttemptChannel,
    at: datetime,
    pack: Pack,
    *,
    relation: Relation | None = None,
    facts: Mapping[str, bool] | None = None,
) -> tuple[ContactContext, ZoneInfo]:
    """The facts the engine needs for one contact, counted from the contact log: connected
    calls to the person today (all staff), dials to this number today, calls in the last
    7 days and the last conversation; `facts` adds what only the caller knows (agreed time,
    script discloses the debt, cease requested, ...)."""
    zone = rules_service.case_zone(pack, point.extra)
    day = at.astimezone(zone).date()
    relation = relation or relation_of(point, channel)
    customer_id = point.customer_id
    recent = log.recent_debtor_calls(session, customer_id)
    debtor_phones = [
        p
        for p in repo.contact_points_of(session, customer_id)
        if p.channel == "phone" and p.kind != "emergency"
    ]
    unreachable = (len(recent) >= 3 and not any(recent)) or (
        bool(debtor_phones) and all(p.status == ContactStatus.INVALID for p in debtor_phones)
    )
    who = relation.value
    ctx = ContactContext(
        at=at,
        zones=(zone,),
        channel=CHANNELS[channel],
        relation=relation,
        holds=hold_types(session, case_id, at),
        connected_calls_today=log.connected_calls_on(session, customer_id, day, who),
        dial_attempts_today=log.dials_on(session, point.id, day),
        calls_last_7_days=log.calls_since(session, customer_id, at - timedelta(days=7), who),
        last_conversation_on=log.last_conversation_day(session, customer_id, who),
        debtor_unreachable=unreachable,
        contact_preagreed=point.kind == "emergency" and point.source == "application",
        location_calls_before=(
            log.performed_on_point(session, point.id) if relation in THIRD_PARTIES else 0
        ),
    )
    if facts:
        known = {f.name for f in fields(ContactContext)}
        for name, value in facts.items():
            if name not in known or not isinstance(getattr(ctx, name), bool):
                raise InvalidValue(
                    f"unknown contact fact {name!r}", message_zh=f"未知的联系事实 {name!r}"
                )
            if not isinstance(value, bool):
                raise InvalidValue(f"{name} must be true or false", message_zh=f"{name} 须为是或否")
        ctx = replace(ctx, **dict[str, Any](facts))
    return ctx, zone


def _check_result(point: ContactPoint, result: AttemptResult) -> None:
    if result is AttemptResult.WRONG_NUMBER and point.channel != "phone":
        raise InvalidValue(
            "wrong number applies to phones only", message_zh="“号码错误”仅适用于电话"
        )
    if result is AttemptResult.MOVED and point.channel != "address":
        raise InvalidValue("moved applies to addresses only", message_zh="“已搬离”仅适用于地址")


@dataclass(frozen=True)
class _Contact:
    """One contact as the rules saw it."""

    point: ContactPoint
    case_id: int
    channel: AttemptChannel
    result: AttemptResult
    ctx: ContactContext
    zone: ZoneInfo
    decision: Decision


def _log_row(
    actor: Actor, contact: _Contact, note: str | None, reason: str | None, cipher: Cipher | None
) -> ContactAttempt:
    """The contact log's row: made or blocked, in whose local day, what the rules said;
    the note and the reason sealed (they say things about the person)."""
    ctx, decision = contact.ctx, contact.decision
    performed = not decision.blocked
    return ContactAttempt(
        contact_point_id=contact.point.id,
        case_id=contact.case_id,
        channel=contact.channel.value,
        result=contact.result.value,
        note=personal_data.seal(cipher, note or None),
        attempted_at=ctx.at,
        actor_id=actor.user_id,
        customer_id=contact.point.customer_id,
        relation=ctx.relation.value,
        person_zone=contact.zone.key,
        local_day=ctx.at.astimezone(contact.zone).date(),
        connected=performed and ctx.channel is Channel.CALL and contact.result in CONNECTED,
        performed=performed,
        decision=decision.outcome.value,
        rules_fired=[
            {"id": f.rule_id, "severity": f.severity.value, "why": f.why} for f in decision.fired
        ]
        or None,
        override_reason=personal_data.seal(cipher, reason),
    )


def attempt(
    session: Session,
    actor: Actor,
    case_id: int,
    point_id: int,
    channel: AttemptChannel,
    result: AttemptResult,
    note: str | None = None,
    *,
    at: datetime,
    pack: Pack,
    relation: Relation | None = None,
    facts: Mapping[str, bool] | None = None,
    override_reason: str | None = None,
    cipher: Cipher | None = None,
) -> AttemptOutcome:
    """Check one contact with the conduct rules and log it.

    Allowed: logged as performed and the point's status and confidence move. Warned: the
    same, but only with `override_reason` (else `ReasonRequired`, nothing written), which is
    kept and audited. Blocked: logged as blocked (performed=False, counted nowhere), the
    point is left as it was, and the decision is recorded; the caller commits, so the block
    stays on record. `at` (aware) is when the contact is made. A note (or reason) is
    sealed with `cipher`, without which it is refused; a reason is kept only where the
    rules asked for one (a note on an allowed contact stays in the sealed log alone).
    """
    if note or override_reason:
        personal_data.need(cipher)
    if not actor.can(Permission.RECORD_ATTEMPTS):
        raise Forbidden("your role cannot record attempts", message_zh="您的角色无权登记联系结果")
    point = point_in_case(session, actor, case_id, point_id)
    privacy_requests.assert_contactable(session, point)  # erased on its holder's request
    _check_result(point, result)
    if at.tzinfo is None:
        raise InvalidValue("at: a time zone is required", message_zh="at：须带时区")
    ctx, zone = contact_context(
        session, point, case_id, channel, at, pack, relation=relation, facts=facts
    )
    decision = check(Action.CONTACT, ctx, pack)
    reason = None if decision.blocked else rules_service.require(decision, override_reason)
    reason = reason if decision.outcome is Outcome.WARNED else None
    performed = not decision.blocked
    before = (point.status, point.confidence)
    status, confidence = ContactStatus(point.status), point.confidence
    if performed:  # the value was tried, whichever source gave it: every row of it moves
        status, confidence = after_attempt(point.status, point.confidence, channel, result)
        for same in repo.points_of_value(session, point):
            moved, trust = after_attempt(same.status, same.confidence, channel, result)
            same.status, same.confidence = moved.value, trust
    contact = _Contact(point, case_id, channel, result, ctx, zone, decision)
    row = _log_row(actor, contact, note, reason, cipher)
    session.add(row)
    session.flush()
    rules_service.record_decision(
        session,
        actor,
        decision,
        pack=pack,
        case_id=case_id,
        performed=performed,
        override_reason=reason,
        at=at,
    )
    audit.record(
        session,
        actor,
        "contact.attempt" if performed else "contact.blocked",
        "case",
        case_id,
        {
            "contact_point": point.id,
            "channel": channel.value,
            "result": result.value,
            "status": [before[0], status.value],
            "confidence": [before[1], confidence],
            "decision": decision.outcome.value,
            "rules": list(decision.rule_ids),
        },
        reason=reason,
    )
    return AttemptOutcome(point, row, decision)


def record_attempt(
    session: Session,
    actor: Actor,
    case_id: int,
    point_id: int,
    channel: AttemptChannel,
    result: AttemptResult,
    note: str | None = None,
    *,
    at: datetime,
    pack: Pack,
    override_reason: str | None = None,
    cipher: Cipher | None = None,
) -> ContactPoint:
    """Log one confirmation attempt through the conduct rules (see `attempt`) and return
    the contact point. A blocked attempt is logged as blocked and leaves the point as it
    was; a warned one takes the note as its reason when no other is given."""
    return attempt(
        session,
        actor,
        case_id,
        point_id,
        channel,
        result,
        note,
        at=at,
        override_reason=override_reason or note,
        pack=pack,
        cipher=cipher,
    ).point


REVEAL_ROLES = {Role.ADMIN, Role.MANAGER, Role.VERIFIER}


def _stored_value(
    session: Session, actor: Actor, case: Case, field: str, point_id: int | None
) -> str:
    """The ciphertext asked for; NotFound when retention minimised it."""
    if field == "id_number":
        customer = session.get(Customer, case.customer_id)
        assert customer is not None
        stored = customer.id_number
    elif field == "contact_point" and point_id is not None:
        stored = point_in_case(session, actor, case.id, point_id).value
    else:
        raise InvalidValue(f"cannot reveal {field!r}")
    if not stored:  # minimised under the retention rules: nothing left to show
        raise NotFound(
            "this personal data was minimised under the retention rules",
            message_zh="该个人信息已按保存期限规则删除",
        )
    return stored


def reveal(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    case_id: int,
    *,
    field: str,
    purpose: str,
    pack: Pack,
    now: datetime,
    reason: str | None = None,
    point_id: int | None = None,
    request_id: str | None = None,
) -> str:
    """The clear value of a national ID or a contact point of a case the actor may see,
    for a `purpose` chosen from the list (`domain.reveal.Purpose`; `other` with a reason
    in words). The conduct rules decide: role, purpose, live assignment at `now`, and the
    person's reveals counted atomically against the pack's limits (refused past them,
    429). Every reveal is audited; an anomaly alerts the auditors (`reveal_controls`)."""
    if not actor.can(Permission.REVEAL_PERSONAL_DATA) or actor.role not in REVEAL_ROLES:
        raise Forbidden(
            "your role cannot reveal personal data", message_zh="您的角色无权查看个人信息"
        )
    chosen, stated = stated_reason(purpose, reason)
    case = get_case(session, actor, case_id)
    live = repo.has_live_assignment(session, actor.team_ids, case_id, now)
    counts = reveal_controls.count(session, actor, pack, now)
    context = RevealContext(actor.role.value, chosen.value, live, counts.in_window, counts.today)
    decision = check(Action.REVEAL_PERSONAL_DATA, context, pack)
    if decision.outcome is not Outcome.ALLOWED:
        rules_service.record_decision(
            session,
            actor,
            decision,
            pack=pack,
            case_id=case_id,
            performed=not decision.blocked,
            override_reason=stated,
            at=now,
        )
    if decision.blocked:
        raise reveal_controls.refusal(decision, pack)
    value = cipher.decrypt(_stored_value(session, actor, case, field, point_id))
    # Filed under the case, so the case's timeline shows who saw what and why.
    summary = {"customer_id": case.customer_id, "field": field, "contact_point": point_id}
    audit.record(
        session,
        actor,
        "personal_data.reveal",
        "case",
        case_id,
        {**summary, "purpose": chosen.value},
        reason=stated,
        request_id=request_id,
    )
    reveal_controls.watch(session, actor, case, counts, pack, now)
    return value
