"""Controls on revealing personal data, beyond the role and purpose checks: each person's
reveals are counted atomically against the pack's `reveal_quota` rule (a rate per window
and a daily ceiling per role), and anomalies raise alerts that the region's managers
(never the person concerned) and the auditors see on the alerts page: a burst of reveals,
the daily ceiling reached, reveals of cases neither assigned to the person nor planned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.case import CaseState
from doorstep.domain.errors import Forbidden, RevealLimited
from doorstep.domain.reveal import QUOTA_KIND, Quota, quota
from doorstep.domain.rules import Decision, Pack
from doorstep.services.conduct import audit
from doorstep.store.models import Alert, Case
from doorstep.store.repositories import reveals as repo

BURST, CEILING, UNPLANNED = "reveal_burst", "reveal_ceiling", "reveal_unplanned"
KINDS = (BURST, CEILING, UNPLANNED)
"""The alerts raised here (the alerts page shows them to auditors too)."""
PLANNED_STATES = (CaseState.SCHEDULED.value, CaseState.VISITING.value)


@dataclass(frozen=True, slots=True)
class Counts:
    """A person's reveals today and in the current window, these included; `taken` is
    False when they would pass a limit (then nothing was counted)."""

    today: int = 0
    in_window: int = 0
    taken: bool = True


def count(session: Session, actor: Actor, pack: Pack, now: datetime, n: int = 1) -> Counts:
    """Count `n` reveals for the actor against the pack's limits, atomically; the
    business day is the pack's zone's. Without a quota rule (or a user) nothing counts."""
    limits = quota(pack)
    if limits is None or actor.user_id is None:
        return Counts()
    day = now.astimezone(pack.default_zone).date()
    window = limits.window_of(now)
    taken = repo.take(
        session,
        actor.user_id,
        n,
        day=day,
        window_no=window,
        daily=limits.daily_for(actor.role.value),
        per_window=limits.per_window,
    )
    if taken is not None:
        return Counts(*taken)
    today, in_window = repo.counted(session, actor.user_id, day=day, window_no=window)
    return Counts(today + n, in_window + n, taken=False)


def refusal(decision: Decision, pack: Pack) -> Forbidden | RevealLimited:
    """The error for a blocked reveal: 429 in the quota rule's words when it fired (the
    limits it enforces) when only it fired, else 403 with every rule that fired."""
    fired = decision.fired
    if fired and all(pack.rule(f.rule_id).kind == QUOTA_KIND for f in fired):
        return RevealLimited(
            fired[0].rule_id, fired[0].message_en, fired[0].message_zh, fired[0].why
        )
    return Forbidden(decision.explain("en"), message_zh=decision.explain("zh"))


def watch(
    session: Session, actor: Actor, case: Case, counts: Counts, pack: Pack, now: datetime
) -> list[Alert]:
    """After a reveal of `case`: the alerts it calls for (at most one of each kind per
    person and day; a case not planned joins that day's alert)."""
    limits = quota(pack)
    if limits is None or actor.user_id is None:
        return []
    raised = []
    if counts.in_window - 1 < limits.alert_after <= counts.in_window:
        raised.append(_burst(session, actor, case, counts, limits, now))
    if counts.today == limits.daily_for(actor.role.value):
        raised.append(_raise(session, actor, case, CEILING, now, {"today": counts.today}))
    if not _expected(session, actor, case, now):
        raised.append(_unplanned(session, actor, case, pack, now))
    return raised


def _expected(session: Session, actor: Actor, case: Case, now: datetime) -> bool:
    """A reveal the work explains: the case is assigned to the actor's team, or planned."""
    return repo.assigned_to(session, case.id, actor.team_ids, now) or repo.is_planned(
        session, case.id, PLANNED_STATES, now
    )


def _burst(
    session: Session, actor: Actor, case: Case, counts: Counts, limits: Quota, now: datetime
) -> Alert:
    detail = {
        "in_window": counts.in_window,
        "window_minutes": limits.window_minutes,
        "per_window": limits.per_window,
    }
    return _raise(session, actor, case, BURST, now, detail)


def _unplanned(session: Session, actor: Actor, case: Case, pack: Pack, now: datetime) -> Alert:
    midnight = datetime.combine(now.astimezone(pack.default_zone).date(), time(), pack.default_zone)
    alert = repo.open_alert(session, UNPLANNED, actor.user_id or 0, midnight)
    if alert is None:
        return _raise(session, actor, case, UNPLANNED, now, {"cases": [case.id]})
    detail = dict(alert.detail or {})
    cases = list(detail.get("cases", []))
    if case.id not in cases:
        detail["cases"] = [*cases, case.id]
        alert.detail = detail
        session.flush()
    return alert


def _raise(
    session: Session,
    actor: Actor,
    case: Case,
    kind: str,
    now: datetime,
    detail: Mapping[str, object],
) -> Alert:
    alert = Alert(
        kind=kind,
        case_id=case.id,
        raised_at=now,
        raised_by=actor.user_id,
        detail={"user": actor.username, "role": actor.role.value, **detail},
    )
    session.add(alert)
    session.flush()
    audit.record(
        session,
        SYSTEM,
        f"alert.{kind}",
        "case",
        case.id,
        {"alert": alert.id, "user": actor.username, **detail},
    )
    return alert
