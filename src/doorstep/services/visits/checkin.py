"""Check-in and check-out: who is at the door, where and when, judged by the conduct
rules and the plausibility checks of `domain.checkin`; the case goes scheduled →
visiting at check-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from doorstep.domain import checkin
from doorstep.domain.access import Actor
from doorstep.domain.errors import Forbidden, InvalidValue, TooFar
from doorstep.domain.ports import Cipher
from doorstep.services.cases import contacts, get_case
from doorstep.services.conduct import audit, personal_data
from doorstep.services.conduct import rules as conduct_rules
from doorstep.services.visits.access import live_team, require_recorder, visit_of
from doorstep.services.visits.moves import move_case
from doorstep.services.visits.rules import VisitRules
from doorstep.store.models import Case, PlanStop, Visit
from doorstep.store.repositories import visits as repo


@dataclass(frozen=True)
class Conduct:
    """What the verifiers affirm at the door, for the conduct rules."""

    partner_present: bool = False
    id_shown: bool = False
    recording_on: bool = False
    entering_home: bool = False
    entry_consent: bool = False


def check_in(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    lat: float | None,
    lng: float | None,
    accuracy_m: float | None,
    device_time: datetime | None,
    rules: VisitRules,
    now: datetime,
    conduct: Conduct | None = None,
    reason: str | None = None,
    request_id: str | None = None,
) -> tuple[Visit, checkin.CheckInResult]:
    """Start the visit of a case: record both verifiers, the server's and the device's
    time, the position and its flags; the case goes scheduled → visiting. A second tap
    returns the open visit. The conduct rules decide first (a blocked check-in is refused;
    a warned one needs a reason); more than the allowed distance away is refused unless
    the verifier gives a reason (then the visit is flagged). Nothing but the rules'
    decision is written before a refusal."""
    require_recorder(actor)
    team_id = live_team(session, actor, case_id, now)
    case = get_case(session, actor, case_id, now)
    existing = repo.open_visit(session, case_id)
    if existing is not None:
        return existing, checkin.CheckInResult(existing.distance_m, ())
    verifiers = repo.members_of(session, team_id)
    if len(verifiers) < checkin.TEAM_OF:  # a team left with one member visits nobody
        raise Forbidden(
            f"a visit needs a team of {checkin.TEAM_OF} verifiers; yours has {len(verifiers)}",
            message_zh=f"外访须由 {checkin.TEAM_OF} 名外访员组成的小组进行；您的小组只有 "
            f"{len(verifiers)} 人",
        )
    where = checkin.position(lat, lng, "position")
    _check_readings(accuracy_m, device_time)
    stop = _plan_stop(session, case_id, team_id, now.astimezone(rules.zone).date())
    facts = _facts(session, case, team_id, stop, where, accuracy_m, device_time, rules, now)
    reason = (reason or "").strip() or None
    conduct = conduct or Conduct()
    hours_ok = _conduct_check(session, actor, case_id, conduct, rules, now, reason)
    result = checkin.assess(facts, rules.limits, hours_ok=hours_ok)
    if result.far and (reason is None or len(reason) < 4):
        raise TooFar(result.distance_m or 0, rules.limits.max_distance_m)
    visit = Visit(
        case_id=case.id,
        plan_stop_id=stop.id if stop is not None else None,
        team_id=team_id,
        verifier_ids=verifiers,
        state="checked_in",
        checked_in_at=now,
        device_checked_in_at=device_time,
        position=personal_data.seal_position(rules.cipher, lat, lng),
        accuracy_m=accuracy_m,
        distance_m=result.distance_m,
        flags=[f.value for f in result.flags],
        interview=personal_data.seal_json(rules.cipher, {"check_in_note": reason})
        if reason
        else None,
    )
    session.add(visit)
    session.flush()
    move_case(session, actor, case, "start_visit", "check-in", now=now)
    _audit_check_in(session, actor, visit, result, conduct, reason, request_id)
    return visit, result


def _check_readings(accuracy_m: float | None, device_time: datetime | None) -> None:
    """The device's accuracy is a plausible number of metres, its time has an offset."""
    if accuracy_m is not None and not (0 <= accuracy_m < 1e7):
        raise InvalidValue(
            f"accuracy: {accuracy_m} is not an accuracy in metres",
            message_zh=f"accuracy：{accuracy_m} 不是以米为单位的精度",
        )
    if device_time is not None and device_time.tzinfo is None:
        raise InvalidValue(
            "device_time: needs a time zone offset", message_zh="device_time：需要时区偏移"
        )


def _facts(
    session: Session,
    case: Case,
    team_id: int,
    stop: PlanStop | None,
    where: checkin.Point | None,
    accuracy_m: float | None,
    device_time: datetime | None,
    rules: VisitRules,
    now: datetime,
) -> checkin.CheckInFacts:
    """What the plausibility checks judge: the readings, the planned address, and the
    team's previous check-in (at another case)."""
    previous = repo.previous_check_in(session, team_id, now)
    was = personal_data.unseal_position(rules.cipher, previous.position) if previous else None
    return checkin.CheckInFacts(
        server_time=now,
        local_time=now.astimezone(rules.zone).time(),
        device_time=device_time,
        position=where,
        accuracy_m=accuracy_m,
        planned=_planned_point(session, case, stop, now, rules.cipher),
        previous=(
            checkin.PreviousCheckIn(previous.checked_in_at, checkin.Point(*was))
            if previous is not None and was is not None and previous.case_id != case.id
            else None
        ),
    )


def _planned_point(
    session: Session, case: Case, stop: PlanStop | None, now: datetime, cipher: Cipher | None
) -> checkin.Point | None:
    ranked = contacts.ranked(session, case.customer_id, now)
    wanted = stop.contact_point_id if stop is not None else None
    point = next((r for r in ranked if r.has(wanted)), None) or contacts.best(ranked, "address")
    where = personal_data.unseal_position(cipher, point.point.position) if point else None
    return checkin.Point(*where) if where is not None else None


def _plan_stop(session: Session, case_id: int, team_id: int, on: date) -> PlanStop | None:
    for stop, case in repo.planned_stops(session, frozenset({team_id}), on):
        if case.id == case_id:
            return stop
    return None


def _conduct_check(
    session: Session,
    actor: Actor,
    case_id: int,
    conduct: Conduct,
    rules: VisitRules,
    now: datetime,
    reason: str | None,
) -> bool | None:
    """The conduct rules' decision on the check-in (blocked: `RuleBlocked`; warned without
    a reason: `ReasonRequired`; both recorded by the rules service). Returns whether the
    hour is allowed by the pack (None without a pack: the local hours rule decides)."""
    if rules.pack is None:
        return None
    decision = conduct_rules.check_check_in(
        session,
        actor,
        case_id,
        at=now,
        verifiers_checked_in=2 if conduct.partner_present else 1,
        id_shown=conduct.id_shown,
        entering_home=conduct.entering_home,
        entry_consent=conduct.entry_consent,
        recording_on=conduct.recording_on,
        zone=rules.zone,
        pack=rules.pack,
    )
    conduct_rules.require(decision, reason)
    pack = rules.pack
    return not any(pack.rule(f.rule_id).kind == "quiet_hours" for f in decision.fired)


def _audit_check_in(
    session: Session,
    actor: Actor,
    visit: Visit,
    result: checkin.CheckInResult,
    conduct: Conduct,
    reason: str | None,
    request_id: str | None,
) -> None:
    audit.record(
        session,
        actor,
        "visit.check_in",
        "case",
        visit.case_id,
        {
            "visit": visit.id,
            "team": visit.team_id,
            "verifiers": visit.verifier_ids,
            "distance_m": result.distance_m,
            "accuracy_m": visit.accuracy_m,
            "flags": visit.flags,
            "device_time": (
                visit.device_checked_in_at.isoformat() if visit.device_checked_in_at else None
            ),
            "conduct": conduct.__dict__,
        },
        reason=reason,
        request_id=request_id,
    )


def check_out(
    session: Session,
    actor: Actor,
    visit_id: int,
    *,
    lat: float | None,
    lng: float | None,
    device_time: datetime | None,
    now: datetime,
    cipher: Cipher,
) -> Visit:
    require_recorder(actor)
    visit = visit_of(session, actor, visit_id)
    where = checkin.position(lat, lng, "position")
    if visit.state != "checked_in":
        return visit  # already out (a second tap)
    visit.state = "checked_out"
    visit.checked_out_at = now
    visit.device_checked_out_at = device_time
    visit.out_position = personal_data.seal_position(
        cipher, where.lat if where else None, where.lng if where else None
    )
    session.flush()
    audit.record(
        session,
        actor,
        "visit.check_out",
        "case",
        visit.case_id,
        {"visit": visit.id, "minutes": round((now - visit.checked_in_at).total_seconds() / 60)},
    )
    return visit
