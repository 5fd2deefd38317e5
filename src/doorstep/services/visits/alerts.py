"""Safety of the team: a visit not checked out in time and an SOS raise an alert that the
supervisor's page lists until someone resolves it. The same page lists the alerts about
reveals of personal data (`conduct.reveal_controls`) to supervisors and auditors."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain import checkin
from doorstep.domain.access import SYSTEM, Actor, Permission, Role
from doorstep.domain.errors import Forbidden, InvalidValue, NotFound
from doorstep.domain.ports import Cipher
from doorstep.services.conduct import audit, personal_data, reveal_controls
from doorstep.services.visits.access import visit_of
from doorstep.store.models import Alert, Team
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import visits as repo


def raise_overdue_checkouts(
    session: Session, now: datetime, after: timedelta = timedelta(minutes=60)
) -> list[Alert]:
    """One `overdue_checkout` alert for each visit still checked in `after` its check-in
    (once per visit). The alerts page and the batch call it."""
    raised = []
    for visit in repo.overdue_open_visits(session, now - after):
        alert = Alert(
            kind="overdue_checkout",
            case_id=visit.case_id,
            team_id=visit.team_id,
            visit_id=visit.id,
            raised_at=now,
            position=visit.position,  # the same sealed value: nothing opened
            detail={
                "checked_in_at": visit.checked_in_at.isoformat(),
                "minutes": round((now - visit.checked_in_at).total_seconds() / 60),
                "verifier_ids": list(visit.verifier_ids),
            },
        )
        session.add(alert)
        session.flush()
        audit.record(
            session,
            SYSTEM,
            "alert.overdue_checkout",
            "case",
            visit.case_id,
            {"alert": alert.id, "visit": visit.id, "team": visit.team_id},
        )
        raised.append(alert)
    return raised


def sos(
    session: Session,
    actor: Actor,
    visit_id: int,
    *,
    lat: float | None,
    lng: float | None,
    now: datetime,
    cipher: Cipher,
) -> Alert:
    """An SOS from a verifier on a visit: an alert at once, with the last position known
    (the one sent, else the check-in's), sealed."""
    if not actor.can(Permission.RECORD_VISITS):
        raise Forbidden("your role cannot raise an SOS", message_zh="您的角色无权发出求助")
    visit = visit_of(session, actor, visit_id)
    where = checkin.position(lat, lng, "position")
    alert = Alert(
        kind="sos",
        case_id=visit.case_id,
        team_id=visit.team_id,
        visit_id=visit.id,
        raised_at=now,
        raised_by=actor.user_id,
        position=personal_data.seal_position(cipher, where.lat, where.lng)
        if where
        else visit.position,
        detail={"verifier_ids": list(visit.verifier_ids), "position_sent": where is not None},
    )
    session.add(alert)
    session.flush()
    audit.record(
        session,
        actor,
        "alert.sos",
        "case",
        visit.case_id,
        {"alert": alert.id, "visit": visit.id, "position_sent": where is not None},
    )
    return alert


def alert_positions(
    alerts: list[tuple[Alert, Team | None]], cipher: Cipher
) -> dict[int, personal_data.Position]:
    """Where each alert was raised, opened for the supervisor's page."""
    opened = personal_data.unseal_positions(cipher, [a.position for a, _team in alerts])
    return {a.id: p for (a, _team), p in zip(alerts, opened, strict=True) if p is not None}


def _supervisor(actor: Actor) -> None:
    if not (actor.can(Permission.CHANGE_CASES) or actor.can(Permission.READ_AUDIT)):
        raise Forbidden(
            "only supervisors and auditors see alerts", message_zh="只有主管和审计员可以查看警报"
        )


def _shown_to(actor: Actor, alert: Alert) -> bool:
    """Alerts about reveals go to auditors and supervisors, never to the person they are
    about; safety alerts to supervisors, who can act on them."""
    if alert.kind in reveal_controls.KINDS:
        return actor.user_id is None or alert.raised_by != actor.user_id
    return actor.can(Permission.CHANGE_CASES)


def open_alerts(session: Session, actor: Actor) -> list[tuple[Alert, Team | None]]:
    """Unresolved alerts, newest first; a manager sees their regions' (by the team, else
    the case), an auditor those about reveals."""
    _supervisor(actor)
    regions = actor.regions if actor.role is Role.MANAGER else None
    return [(a, team) for a, team in repo.open_alerts(session, regions) if _shown_to(actor, a)]


def resolve(
    session: Session, actor: Actor, alert_id: int, note: str | None, now: datetime
) -> Alert:
    _supervisor(actor)
    alert = session.get(Alert, alert_id) if 0 < alert_id <= case_repo.MAX_ID else None
    visible = {a.id for a, _team in open_alerts(session, actor)}
    if alert is None or (alert.resolved_at is None and alert.id not in visible):
        raise NotFound(f"no alert {alert_id}", message_zh=f"没有警报 {alert_id}")
    if alert.resolved_at is not None:
        return alert
    text = (note or "").strip()
    if len(text) < 2:
        raise InvalidValue(
            "note: say what was done (at least 2 characters)",
            message_zh="处理说明：请说明处理情况（至少 2 个字）",
        )
    alert.resolved_at, alert.resolved_by = now, actor.user_id
    detail = dict(alert.detail or {})
    detail["resolution"] = text
    alert.detail = detail
    session.flush()
    audit.record(
        session,
        actor,
        "alert.resolve",
        "case" if alert.case_id else "alert",
        alert.case_id or alert.id,
        {"alert": alert.id, "kind": alert.kind},
        reason=text,
    )
    return alert
