"""Customers sharing a national ID: the stored customers with given lookup hashes, the
links already made between customer numbers, new links, and a customer's links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Select, func, insert, or_, select
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.store.models import Case, Customer, IdentityLink
from doorstep.store.repositories.cases import visible_to

CHUNK = 500  # keys per IN list: every driver takes it


def customers_by_id_hash(connection: Connection, hashes: Sequence[str]) -> list[tuple[str, str]]:
    """(customer_id, id_number_hash) of the stored customers whose ID has one of `hashes`
    (by the hash's index: never by decrypting)."""
    rows: list[tuple[str, str]] = []
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start : start + CHUNK]
        rows += [
            (customer, digest)
            for customer, digest in connection.execute(
                select(Customer.customer_id, Customer.id_number_hash).where(
                    Customer.id_number_hash.in_(chunk)
                )
            )
        ]
    return rows


def linked_pairs(connection: Connection, customer_ids: Sequence[str]) -> set[tuple[str, str]]:
    """The (lower, higher) customer-id pairs already linked among links touching any of
    `customer_ids`."""
    pairs: set[tuple[str, str]] = set()
    link = IdentityLink
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        pairs |= {
            (low, high)
            for low, high in connection.execute(
                select(link.customer_id, link.other_customer_id).where(
                    or_(link.customer_id.in_(chunk), link.other_customer_id.in_(chunk))
                )
            )
        }
    return pairs


def add_links(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """New links (each a pair not linked yet, lower id first), in one statement."""
    if rows:
        connection.execute(insert(IdentityLink), list(rows))


def links_of(session: Session, customer_id: str) -> list[IdentityLink]:
    """The customer's links, either side, oldest first."""
    link = IdentityLink
    return list(
        session.scalars(
            select(link)
            .where(or_(link.customer_id == customer_id, link.other_customer_id == customer_id))
            .order_by(link.id)
        )
    )


def latest_visible_cases(
    session: Session, actor: Actor, customer_ids: Sequence[str], now: datetime
) -> dict[str, int]:
    """Each customer's latest case the actor may see (customers without one are left out)."""
    theirs = cast(
        Select[Any],
        select(Case.customer_id, func.max(Case.id)).where(Case.customer_id.in_(customer_ids)),
    )
    latest = visible_to(theirs, actor, now).group_by(Case.customer_id)
    return dict(session.execute(latest).all())
