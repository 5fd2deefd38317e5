"""Queries over stored personal data: paging through ciphertexts to re-encrypt them, and
the rows of customers whose personal data is minimised."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import (
    Alert,
    BorrowerMessage,
    Case,
    ContactAttempt,
    ContactPoint,
    Customer,
    Evidence,
    IngestChange,
    PrivacyRequest,
    Visit,
    WebhookEndpoint,
)

ENCRYPTED: tuple[tuple[Any, Any, Any], ...] = (
    (Customer, Customer.customer_id, Customer.id_number),
    (ContactPoint, ContactPoint.id, ContactPoint.value),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.phone),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.name),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.details),
    (PrivacyRequest, PrivacyRequest.id, PrivacyRequest.identity_note),
    (ContactPoint, ContactPoint.id, ContactPoint.position),
    (Visit, Visit.id, Visit.position),
    (Visit, Visit.id, Visit.out_position),
    (Visit, Visit.id, Visit.interview),
    (Evidence, Evidence.id, Evidence.exif_position),
    (Alert, Alert.id, Alert.position),
    (ContactAttempt, ContactAttempt.id, ContactAttempt.note),
    (ContactAttempt, ContactAttempt.id, ContactAttempt.override_reason),
    (BorrowerMessage, BorrowerMessage.id, BorrowerMessage.statement),
    (IngestChange, IngestChange.id, IngestChange.before),
    (IngestChange, IngestChange.id, IngestChange.after),
    (WebhookEndpoint, WebhookEndpoint.id, WebhookEndpoint.secret_encrypted),
)
"""(table, key, encrypted column) of every value stored under the personal-data cipher."""

HASHED: tuple[tuple[Any, Any, Any, Any], ...] = (
    (Customer, Customer.customer_id, Customer.id_number, Customer.id_number_hash),
    (ContactPoint, ContactPoint.id, ContactPoint.value, ContactPoint.value_hash),
    (ContactPoint, ContactPoint.id, ContactPoint.position, ContactPoint.position_hash),
)
"""(table, key, encrypted column, its keyed lookup hash)."""


def _pages(session: Session, key: Any, columns: list[Any], batch: int) -> Iterator[list[Any]]:
    """The rows (key, *columns) whose first column is set, `batch` at a time in key order."""
    last: Any = None
    while True:
        query = (
            select(key, *columns)
            .where(columns[0].is_not(None), columns[0] != "")  # "": minimised by retention
            .order_by(key)
            .limit(batch)
        )
        if last is not None:
            query = query.where(key > last)
        rows = list(session.execute(query).all())
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _rewrite(session: Session, table: Any, key: Any, column: Any, values: list[Any]) -> None:
    """Set `column` of each row: `values` are (row key, new value). A statement on the
    table, not the ORM's bulk update by key: that one wants the version of the rows with
    a version counter (a privacy request), and a new ciphertext of the same value is no
    change a person editing the row must be told of."""
    statement = (
        update(table.__table__)
        .where(key == bindparam("row_key"))
        .values({column.expression.name: bindparam("new_value")})
    )
    session.execute(statement, [{"row_key": k, "new_value": v} for k, v in values])


def reencrypt_all(session: Session, rotate: Callable[[str], str], batch: int) -> int:
    """Replace every stored ciphertext by `rotate(ciphertext)`, `batch` rows at a time in
    key order; returns how many values were rewritten."""
    count = 0
    for table, key, column in ENCRYPTED:
        for rows in _pages(session, key, [column], batch):
            _rewrite(session, table, key, column, [(k, rotate(token)) for k, token in rows])
            count += len(rows)
    return count


def rehash_all(
    session: Session, decrypt: Callable[[str], str], digest: Callable[[str], str], batch: int
) -> None:
    """Recompute every keyed lookup hash from its decrypted value."""
    for table, key, column, hashed in HASHED:
        for rows in _pages(session, key, [column], batch):
            _rewrite(session, table, key, hashed, [(k, digest(decrypt(t))) for k, t in rows])


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
        .values(position=None, out_position=None, interview=None)
    )
