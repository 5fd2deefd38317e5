"""Queries of the model registry, scores and drift, and the book's behaviour for features.

The behaviour reads never touch personal data: no names, numbers or address texts, only
amounts, dates, statuses and trust. Gender and birth date are read for the fairness
report only (`fairness_groups`), never for features.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from doorstep.domain.case import OPEN_STATES
from doorstep.store.models import (
    Case,
    ContactAttempt,
    ContactPoint,
    Customer,
    Loan,
    ModelDrift,
    ModelVersion,
    Payment,
    PromiseToPay,
    Score,
)
from doorstep.store.models.delinquency import DelinquencySnapshot
from doorstep.store.repositories import book

ACTIVE, CANDIDATE, RETIRED = "active", "candidate", "retired"
VISIT_PRIORITY = "visit_priority"


# --- registry -----------------------------------------------------------------------------


def next_version(session: Session, purpose: str) -> int:
    latest = session.scalar(
        select(func.max(ModelVersion.version)).where(ModelVersion.purpose == purpose)
    )
    return int(latest or 0) + 1


def add_version(session: Session, version: ModelVersion) -> ModelVersion:
    session.add(version)
    session.flush()
    return version


def get_version(session: Session, version_id: int) -> ModelVersion | None:
    if not 0 < version_id <= 2**31 - 1:
        return None
    return session.get(ModelVersion, version_id)


def active_version(session: Session, purpose: str) -> ModelVersion | None:
    found: ModelVersion | None = session.scalar(
        select(ModelVersion).where(ModelVersion.purpose == purpose, ModelVersion.status == ACTIVE)
    )
    return found


def list_versions(session: Session) -> list[ModelVersion]:
    """Every version without its bytes loaded, newest first within each purpose."""
    from sqlalchemy.orm import defer

    return list(
        session.scalars(
            select(ModelVersion)
            .options(defer(ModelVersion.blob))
            .order_by(ModelVersion.purpose, ModelVersion.version.desc())
        )
    )


def retire_active(session: Session, purpose: str, now: datetime) -> list[int]:
    """Retire the purpose's active version(s); returns their ids."""
    ids = list(
        session.scalars(
            select(ModelVersion.id)
            .where(ModelVersion.purpose == purpose, ModelVersion.status == ACTIVE)
            .with_for_update()
        )
    )
    if ids:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.id.in_(ids))
            .values(status=RETIRED, retired_at=now)
        )
        session.flush()
    return ids


# --- scores and drift -------------------------------------------------------------------


def replace_scores(
    session: Session, model_version_id: int, as_of: date, rows: Sequence[dict[str, Any]]
) -> int:
    """Store one model's scores of a day, replacing that day's earlier run."""
    connection = session.connection()
    connection.execute(
        delete(Score).where(Score.model_version_id == model_version_id, Score.as_of == as_of)
    )
    if rows:
        connection.execute(Score.__table__.insert(), list(rows))  # type: ignore[attr-defined]
    return len(rows)


def delete_partition_scores(
    session: Session, model_version_id: int, as_of: date, first: int, last: int
) -> None:
    """Drop one model's scores of a day for the customers whose loans' slots are in
    first..last (a partition holds whole customers), before the partition is scored."""
    in_partition = select(Loan.customer_id).where(Loan.partition_slot.between(first, last))
    session.execute(
        delete(Score).where(
            Score.model_version_id == model_version_id,
            Score.as_of == as_of,
            Score.customer_id.in_(in_partition),
        )
    )


def add_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert scores (one partition's run, its earlier rows already dropped)."""
    session.execute(insert(Score), list(rows))


def drop_scores_without_loans(session: Session, model_version_id: int, as_of: date) -> None:
    """Drop one model's scores of a day for customers who no longer have a loan."""
    session.execute(
        delete(Score).where(
            Score.model_version_id == model_version_id,
            Score.as_of == as_of,
            Score.customer_id.not_in(select(Loan.customer_id)),
        )
    )


def replace_drift(
    session: Session, model_version_id: int, as_of: date, rows: Sequence[dict[str, Any]]
) -> None:
    connection = session.connection()
    connection.execute(
        delete(ModelDrift).where(
            ModelDrift.model_version_id == model_version_id, ModelDrift.as_of == as_of
        )
    )
    if rows:
        connection.execute(ModelDrift.__table__.insert(), list(rows))  # type: ignore[attr-defined]


def scores_on(session: Session, model_version_id: int, as_of: date) -> list[Score]:
    return list(
        session.scalars(
            select(Score)
            .where(Score.model_version_id == model_version_id, Score.as_of == as_of)
            .order_by(Score.customer_id)
        )
    )


def probabilities_on(session: Session, model_version_id: int, as_of: date) -> dict[str, int]:
    """customer_id -> probability (basis points) of one model on one day."""
    rows = session.execute(
        select(Score.customer_id, Score.probability_bp).where(
            Score.model_version_id == model_version_id, Score.as_of == as_of
        )
    ).all()
    return {customer: bp for customer, bp in rows}


def scored_days(session: Session, model_version_id: int) -> list[date]:
    rows = session.scalars(
        select(Score.as_of)
        .where(Score.model_version_id == model_version_id)
        .group_by(Score.as_of)
        .order_by(Score.as_of.desc())
    )
    return list(rows)


def drift_on(session: Session, model_version_id: int, as_of: date) -> list[ModelDrift]:
    return list(
        session.scalars(
            select(ModelDrift)
            .where(ModelDrift.model_version_id == model_version_id, ModelDrift.as_of == as_of)
            .order_by(ModelDrift.psi.desc(), ModelDrift.name)
        )
    )


def drift_days(session: Session, model_version_id: int) -> list[date]:
    rows = session.scalars(
        select(ModelDrift.as_of)
        .where(ModelDrift.model_version_id == model_version_id)
        .group_by(ModelDrift.as_of)
        .order_by(ModelDrift.as_of.desc())
    )
    return list(rows)


def fairness_groups(session: Session, customer_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """customer_id -> (gender, birth year): for the fairness report only, never a feature."""
    wanted = list(customer_ids)
    out: dict[str, tuple[str, int]] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        rows = session.execute(
            select(Customer.customer_id, Customer.gender, Customer.birth_year).where(
                Customer.customer_id.in_(chunk)
            )
        ).all()
        out.update({cid: (gender, born) for cid, gender, born in rows})
    return out


def cases_by_customer(session: Session) -> dict[str, tuple[int, str]]:
    """customer_id -> (case id, state) of each open case (one per customer)."""
    rows = session.execute(
        select(Case.customer_id, Case.id, Case.state).where(
            Case.state.in_([s.value for s in OPEN_STATES])
        )
    ).all()
    return {customer: (case_id, state) for customer, case_id, state in rows}


def latest_snapshot_day(connection: Connection) -> date | None:
    day: date | None = connection.execute(
        select(func.max(DelinquencySnapshot.as_of))
    ).scalar_one_or_none()
    return day


# --- the book's behaviour, for features ---------------------------------------------------


def _frame(connection: Connection, statement: Any, schema: dict[str, Any]) -> pl.DataFrame:
    rows = connection.execute(statement).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


Slots = tuple[int, int] | None
"""A partition's run of loan slots (first, last), or None for the whole book."""


def _in_slots(connection: Connection, statement: Any, column: Any, slots: Slots, of: Any) -> Any:
    """`statement` limited to the partition's rows (see `book.in_slots`): a partition
    holds whole customers, every loan of a customer has its slot."""
    if slots is None:
        return statement
    return statement.where(book.in_slots(connection, *slots, of=of)(column))


def read_loans(connection: Connection, slots: Slots = None) -> pl.DataFrame:
    statement = select(
        Loan.loan_id,
        Loan.customer_id,
        Loan.principal,
        Loan.annual_rate,
        Loan.term_months,
        Loan.disbursed_on,
    )
    if slots is not None:
        statement = statement.where(Loan.partition_slot.between(*slots))
    return _frame(
        connection,
        statement,
        {
            "loan_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "principal": pl.Int64,
            "annual_rate": pl.Float64,  # a feature value, not money arithmetic
            "term_months": pl.Int64,
            "disbursed_on": pl.Date,
        },
    )


def read_payments(connection: Connection, slots: Slots = None) -> pl.DataFrame:
    statement = select(Payment.loan_id, Payment.paid_on, Payment.amount, Payment.channel)
    if slots is not None:  # payments carry their loan's slot
        statement = statement.where(Payment.partition_slot.between(*slots))
    return _frame(
        connection,
        statement,
        {"loan_id": pl.Utf8, "paid_on": pl.Date, "amount": pl.Int64, "channel": pl.Utf8},
    )


def read_contact_points(connection: Connection, slots: Slots = None) -> pl.DataFrame:
    """Phones and addresses without their values: kind, source, status, trust, when seen."""
    c = ContactPoint
    statement = select(
        c.id, c.customer_id, c.channel, c.kind, c.source, c.status, c.confidence, c.observed_at
    )
    return _frame(
        connection,
        _in_slots(connection, statement, c.customer_id, slots, Loan.customer_id),
        {
            "point_id": pl.Int64,
            "customer_id": pl.Utf8,
            "channel": pl.Utf8,
            "kind": pl.Utf8,
            "source": pl.Utf8,
            "status": pl.Utf8,
            "confidence": pl.Float64,
            "observed_at": pl.Datetime("us", "UTC"),
        },
    )


def read_attempts(connection: Connection, slots: Slots = None) -> pl.DataFrame:
    statement = select(
        ContactPoint.customer_id,
        ContactAttempt.channel,
        ContactAttempt.result,
        ContactAttempt.attempted_at,
    ).join(ContactPoint, ContactPoint.id == ContactAttempt.contact_point_id)
    return _frame(
        connection,
        _in_slots(connection, statement, ContactPoint.customer_id, slots, Loan.customer_id),
        {
            "customer_id": pl.Utf8,
            "channel": pl.Utf8,
            "result": pl.Utf8,
            "attempted_at": pl.Datetime("us", "UTC"),
        },
    )


def read_promises(connection: Connection, slots: Slots = None) -> pl.DataFrame:
    """Promises to pay with the day they were judged (kept / partly kept / broken)."""
    p = PromiseToPay
    statement = select(p.customer_id, p.status, p.due_on, p.judged_on)
    return _frame(
        connection,
        _in_slots(connection, statement, p.customer_id, slots, Loan.customer_id),
        {"customer_id": pl.Utf8, "status": pl.Utf8, "due_on": pl.Date, "judged_on": pl.Date},
    )
