"""Contact points ranked by trust: the rows of one value (a phone or an address) of a
customer, from every source, are one contact, judged by `domain.contact.value_trust`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.contact import Evidence, last_evidence, value_trust
from doorstep.store.models import ContactPoint
from doorstep.store.repositories import cases as repo


@dataclass(frozen=True)
class RankedContact:
    """One value of a customer: `point` is the row whose evidence decides its trust,
    `points` every row of the same value (one per source), `sources` their sources."""

    point: ContactPoint
    trust: float
    why: str
    points: tuple[ContactPoint, ...] = ()

    @property
    def point_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.points) or (self.point.id,)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({p.source for p in self.points or (self.point,)}))

    def has(self, point_id: int | None) -> bool:
        return point_id is not None and point_id in self.point_ids


def ranked(session: Session, customer_id: str, now: datetime) -> list[RankedContact]:
    """Every contact of a customer, one per value, most trusted first, each with why it
    is trusted that much at `now` (trust decays with the age of the last evidence)."""
    return ranked_many(session, [customer_id], now)[customer_id]


def ranked_many(
    session: Session, customer_ids: list[str], now: datetime
) -> dict[str, list[RankedContact]]:
    """`ranked` for several customers (a verifier's day) in two queries."""
    points = repo.contact_points_of_many(session, customer_ids)
    attempted = repo.last_evidence_attempts(session, [p.id for ps in points.values() for p in ps])
    found = {}
    for customer, of_customer in points.items():
        values: dict[tuple[str, str], list[ContactPoint]] = {}
        for point in of_customer:
            values.setdefault((point.channel, point.value_hash), []).append(point)
        found[customer] = sorted(
            (_rank(same, attempted, now) for same in values.values()),
            key=lambda r: (r.point.channel, -r.trust, r.point.id),
        )
    return found


def _rank(same: list[ContactPoint], attempted: dict[int, datetime], now: datetime) -> RankedContact:
    evidence = [
        Evidence(
            p.source, p.status, p.confidence, last_evidence(p.observed_at, attempted.get(p.id))
        )
        for p in same
    ]
    trust, chosen = value_trust(evidence, now)
    point, seen = same[chosen], evidence[chosen].at
    age = (now - seen).total_seconds() / 86400
    sources = ", ".join(sorted({p.source for p in same}))
    why = (
        f"{point.status}, source {point.source} (of {sources}), confidence "
        f"{point.confidence:.2f}, last evidence {age:.0f} days ago → {trust:.2f}"
    )
    return RankedContact(point, trust, why, tuple(same))


def best(ranked_points: list[RankedContact], channel: str) -> RankedContact | None:
    usable = [r for r in ranked_points if r.point.channel == channel and r.trust > 0]
    return max(usable, key=lambda r: r.trust, default=None)
