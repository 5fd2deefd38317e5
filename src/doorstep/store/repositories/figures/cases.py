"""Live counts of cases and promises (small tables: counted as they are, never stored)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, func, select

from doorstep.store.models import Case, PromiseToPay
from doorstep.store.repositories.figures._shared import Cities


def cases_by_state_and_opening(
    connection: Connection, cities: Cities
) -> list[tuple[str, date, int]]:
    query = select(Case.state, Case.opened_on, func.count()).group_by(Case.state, Case.opened_on)
    if cities is not None:
        query = query.where(Case.city.in_(cities))
    rows = connection.execute(query)
    return [(s, d, int(n)) for s, d, n in rows]


def promise_statuses(
    connection: Connection, since: date, until: date, cities: Cities
) -> dict[str, int]:
    query = (
        select(PromiseToPay.status, func.count())
        .join(Case, Case.id == PromiseToPay.case_id)
        .where(PromiseToPay.due_on >= since, PromiseToPay.due_on <= until)
        .group_by(PromiseToPay.status)
    )
    if cities is not None:
        query = query.where(Case.city.in_(cities))
    rows = connection.execute(query)
    return {status: int(n) for status, n in rows}
