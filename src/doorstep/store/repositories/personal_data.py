"""Queries over stored personal data: paging through ciphertexts to re-encrypt them, and
the rows of customers whose personal data is minimised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from doorstep.store.models import Case, ContactPoint, Customer, PrivacyRequest, Visit

ENCRYPTED = (
    (Customer, Customer.customer_id, Customer.id_number),
    (ContactPoint, ContactPoint.id, ContactPoint.value),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.phone),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.name),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.details),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.identity_note),
)
"""(table, key, encrypted column) of every value stored under the personal-data cipher."""


def reencrypt_all(session: Session, rotate: Callable[[str], str], batch: int) -> int:
    """Replace every stored ciphertext by `rotate(ciphertext)`, `batch` rows at a time in
    key order; returns how many values were rewritten."""
    count = 0
    for table, key, column in ENCRYPTED:
        last: Any = None
        while True:
            # minimised or erased values are empty, absent ones NULL: nothing to rotate
            query = select(key, column).where(column.is_not(None), column != "")
            query = query.order_by(key).limit(batch)
            if last is not None:
                query = query.where(key > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for row_key, token in rows:
                session.execute(
                    update(table).where(key == row_key).values({column.key: rotate(str(token))})
                )
            count += len(rows)
            last = rows[-1][0]
    return count


def customers_in(session: Session, customer_ids: list[str]) -> list[Customer]:
    return list(session.scalars(select(Customer).where(Customer.customer_id.in_(customer_ids))))


def contact_points_of_customers(session: Session, customer_ids: list[str]) -> list[ContactPoint]:
    return list(
        session.scalars(select(ContactPoint).where(ContactPoint.customer_id.in_(customer_ids)))
    )


def forget_visit_details(session: Session, customer_ids: list[str]) -> None:
    """Drop the positions and the interview text of these customers' visits."""
    case_ids = select(Case.id).where(Case.customer_id.in_(customer_ids))
    session.execute(
        update(Visit)
        .where(Visit.case_id.in_(case_ids))
        .values(lat=None, lng=None, out_lat=None, out_lng=None, interview=None)
    )
