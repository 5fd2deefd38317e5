"""The verifier's day: the team's stops in route order, each with its address revealed
while the case is live-assigned to the team."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import CaseState
from doorstep.domain.ports import Cipher
from doorstep.domain.reveal import Purpose
from doorstep.domain.rules import Action, Outcome, Pack, RevealContext, check
from doorstep.services.cases import contacts
from doorstep.services.conduct import audit
from doorstep.services.conduct.personal_data import unseal_position
from doorstep.services.visits.access import require_recorder
from doorstep.store.models import Case, ContactPoint, Visit
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import visits as repo

TO_VISIT = (CaseState.SCHEDULED.value, CaseState.VISITING.value)
"""The states of a case still to be visited (or being visited)."""


@dataclass
class DayStop:
    case: Case
    planned: bool
    seq: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    eta: datetime | None = None
    address: str | None = None  # clear text, revealed for the live assignment
    address_masked: str | None = None
    lat: float | None = None
    lng: float | None = None
    visit: Visit | None = None
    submitted: bool = False

    @property
    def geo_uri(self) -> str | None:
        if self.lat is None or self.lng is None:
            return None
        label = f"({quote(self.address)})" if self.address else ""
        return f"geo:{self.lat:.6f},{self.lng:.6f}?q={self.lat:.6f},{self.lng:.6f}{label}"


Reveal = tuple[DayStop, ContactPoint]
"""A stop and the contact point whose clear value it shows."""


def customer_name(session: Session, case: Case) -> str:
    customer = case_repo.customer(session, case.customer_id)
    return customer.name if customer is not None else case.customer_id


def customer_names(session: Session, cases: Sequence[Case]) -> dict[int, str]:
    """Case id -> the customer's name, in one query (the day page lists a team's cases)."""
    found = repo.customer_names(session, {c.customer_id for c in cases})
    return {c.id: found.get(c.customer_id, c.customer_id) for c in cases}


def map_link(template: str, stop: DayStop) -> str | None:
    if stop.lat is None or stop.lng is None or not template:
        return None
    return template.replace("{lat}", f"{stop.lat:.6f}").replace("{lng}", f"{stop.lng:.6f}")


def day(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    on: date,
    *,
    now: datetime,
    pack: Pack,
    request_id: str | None = None,
) -> list[DayStop]:
    """The actor's team's stops of the published plan of `on` in route order, then the
    cases scheduled for the team by hand. Each best address is revealed while the
    assignment is live: audited the first time this verifier sees it during the
    assignment, shown without a new audit event afterwards (the trail already says who saw
    which address, when and why). A stop whose case is not live-assigned is left out."""
    require_recorder(actor)
    stops, wanted = _stops_of_day(session, actor, on, now)
    to_reveal = _locate(session, stops, wanted, now)
    # Reads and checks first, the audit events last and back to back: each event locks the
    # audit chain's head until the caller commits, and every audited write of the service
    # waits for that lock.
    reason = f"外访路线 visit day {on.isoformat()}"  # purpose: visit preparation
    first = _reveal(session, actor, cipher, to_reveal, reason, now, request_id, pack)
    _audit_first_reveals(session, actor, first, reason, request_id)
    return stops


def _stops_of_day(
    session: Session, actor: Actor, on: date, now: datetime
) -> tuple[list[DayStop], dict[int, int | None]]:
    """The routed stops of live-assigned cases, then the cases scheduled by hand; with
    the contact point each routed case is planned at."""
    stops: list[DayStop] = []
    wanted: dict[int, int | None] = {}  # case -> the planned contact point
    planned = repo.planned_stops(session, actor.team_ids, on)
    assigned = repo.live_cases(session, [case.id for _, case in planned], actor.team_ids, now)
    for stop, case in planned:
        if case.id not in assigned:
            continue
        wanted[case.id] = stop.contact_point_id
        stops.append(
            DayStop(case, True, stop.seq, stop.window_start, stop.window_end, stop.arrive_at)
        )
    for case in repo.hand_scheduled(session, actor.team_ids, now, TO_VISIT):
        if case.id not in wanted:
            stops.append(DayStop(case, False))
    return stops, wanted


def _locate(
    session: Session, stops: list[DayStop], wanted: dict[int, int | None], now: datetime
) -> list[Reveal]:
    """Fill in each stop's open visit and its address (the planned contact point, else
    the best address) masked, with its position; returns the stops still to visit with
    the contact point to reveal."""
    open_visits = repo.open_visits_of_cases(session, [s.case.id for s in stops])
    to_reveal: list[Reveal] = []
    every_ranked = contacts.ranked_many(session, [s.case.customer_id for s in stops], now)
    for s in stops:
        s.visit = open_visits.get(s.case.id)
        s.submitted = s.case.state not in TO_VISIT
        ranked = every_ranked[s.case.customer_id]
        chosen = next((r for r in ranked if r.has(wanted.get(s.case.id))), None) or contacts.best(
            ranked, "address"
        )
        if chosen is None:
            continue
        s.address_masked = chosen.point.value_masked
        if s.case.state in TO_VISIT:
            to_reveal.append((s, chosen.point))
    return to_reveal


def _reveal(
    session: Session,
    actor: Actor,
    cipher: Cipher,
    to_reveal: list[Reveal],
    reason: str,
    now: datetime,
    request_id: str | None,
    pack: Pack,
) -> list[Reveal]:
    """Show each address and its position: decrypted here when the actor may plainly see
    it now, else through the reveal service. Returns the plain reveals this verifier had
    not been shown yet during the assignment (to be audited)."""
    live = _reveal_allowed(session, actor, [s.case.id for s, _ in to_reveal], now, pack)
    seen = _seen_this_assignment(session, actor, live)
    first: list[Reveal] = []
    for s, point in to_reveal:
        if s.case.id not in live or not point.value:
            # not plainly allowed, or nothing left to show: the reveal service decides,
            # records and explains, as for any reveal
            s.address = contacts.reveal(
                session,
                actor,
                cipher,
                s.case.id,
                field="contact_point",
                point_id=point.id,
                purpose=Purpose.VISIT_PREPARATION,
                reason=reason,
                pack=pack,
                now=now,
                request_id=request_id,
            )
            s.lat, s.lng = unseal_position(cipher, point.position) or (None, None)
            continue
        s.address = cipher.decrypt(point.value)
        s.lat, s.lng = unseal_position(cipher, point.position) or (None, None)
        if (s.case.id, point.id) not in seen:
            first.append((s, point))
    return first


def _audit_first_reveals(
    session: Session, actor: Actor, first: list[Reveal], reason: str, request_id: str | None
) -> None:
    """The same event `contacts.reveal` files under the case, for each first reveal."""
    for s, point in first:
        audit.record(
            session,
            actor,
            "personal_data.reveal",
            "case",
            s.case.id,
            {
                "customer_id": s.case.customer_id,
                "field": "contact_point",
                "contact_point": point.id,
                "purpose": Purpose.VISIT_PREPARATION.value,
            },
            reason=reason,
            request_id=request_id,
        )


def _reveal_allowed(
    session: Session, actor: Actor, case_ids: Sequence[int], now: datetime, pack: Pack
) -> dict[int, datetime]:
    """Of `case_ids`, those whose contact points the actor may plainly see now, each with
    the start of its live assignment to the actor's team: the checks of `contacts.reveal`
    (a role that may reveal, the conduct rules allowing it without a warning for a live
    assignment), made once for the day. Empty when any is not met."""
    if not case_ids or not actor.can(Permission.REVEAL_PERSONAL_DATA):
        return {}
    if actor.role not in contacts.REVEAL_ROLES:
        return {}
    allowed = check(
        Action.REVEAL_PERSONAL_DATA,
        RevealContext(actor.role.value, Purpose.VISIT_PREPARATION.value, True),
        pack,
    )
    if allowed.outcome is not Outcome.ALLOWED:
        return {}
    began: dict[int, datetime] = {}
    for case_id, starts_at in repo.live_assignment_starts(session, case_ids, actor.team_ids, now):
        began[case_id] = max(began.get(case_id, starts_at), starts_at)
    return began


def _seen_this_assignment(
    session: Session, actor: Actor, began: dict[int, datetime]
) -> set[tuple[int, int]]:
    """(case, contact point) pairs whose clear value this actor was shown (an audited
    reveal) since the case's live assignment began."""
    if not began:
        return set()
    seen: set[tuple[int, int]] = set()
    for case_id, at, summary in repo.reveals_by(
        session, actor.username, began, min(began.values())
    ):
        point = summary.get("contact_point")
        if summary.get("field") == "contact_point" and at >= began[case_id] and point:
            seen.add((case_id, int(point)))
    return seen
