"""New contact points found by the work on a case (a visit's answer, a skip-trace source):
stored encrypted beside the lender's, unverified, so they enter confirmation (the case
page's attempts) like any other point; the selection takes the case out of skip-trace
once an address reaches the policy's confidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.contact import ContactStatus, initial_confidence
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.services.conduct import audit
from doorstep.services.conduct.personal_data import mask_contact
from doorstep.store.models import Case, ContactPoint
from doorstep.store.repositories import cases as repo

KIND = {"address": "residence", "phone": "mobile"}


@dataclass(frozen=True)
class Keys:
    """What personal data is stored with: encrypted, and hashed to find it again."""

    cipher: Cipher
    hasher: KeyedHasher


def capture(
    session: Session,
    actor: Actor,
    case: Case,
    channel: str,
    value: str,
    *,
    source: str,
    via: str,
    keys: Keys,
    now: datetime,
) -> ContactPoint:
    """A new unverified contact point of the case's customer (the one already held when
    the same value came from the same source), audited without its value."""
    digest = keys.hasher.digest(value)
    for point in repo.contact_points_of(session, case.customer_id):
        if (point.channel, point.value_hash, point.source) == (channel, digest, source):
            return point
    point = ContactPoint(
        customer_id=case.customer_id,
        channel=channel,
        kind=KIND[channel],
        value=keys.cipher.encrypt(value),
        value_hash=digest,
        value_masked=mask_contact(channel, value),
        source=source,
        observed_at=now,
        status=ContactStatus.UNVERIFIED.value,
        confidence=initial_confidence(source, ContactStatus.UNVERIFIED.value),
        extra={"via": via, "case_id": case.id},
    )
    session.add(point)
    session.flush()
    summary = {"contact_point": point.id, "channel": channel, "via": via}
    audit.record(session, actor, "contact.capture", "case", case.id, summary)
    return point
