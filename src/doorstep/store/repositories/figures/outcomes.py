"""The outcomes of visits: per customer 30 days on (cured, recovered), against the
holdout, summed per day, city and cohort for the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

from sqlalchemy import Connection, case, delete, func, insert, select

from doorstep.store.models import (
    Case,
    DelinquencySnapshot,
    Loan,
    OutcomeFigure,
    Payment,
    PlanStop,
    Visit,
    VisitOutcome,
)
from doorstep.store.repositories.figures._shared import Cities, day_start, insert_from


def write_visit_outcomes(connection: Connection, as_of: date, zone: tzinfo, days: int) -> int:
    """Outcomes of the visits (and holdouts) of the day `days` before `as_of`, judged
    from `as_of`'s snapshots and the payments in between; replaces that day's rows."""
    day = as_of - timedelta(days=days)
    start = day_start(day, zone)
    end = start + timedelta(days=1)
    visited = connection.execute(
        select(
            Case.customer_id,
            Case.city,
            func.count(),
            func.coalesce(func.sum(PlanStop.travel_m), 0),
        )
        .select_from(Visit)
        .join(Case, Case.id == Visit.case_id)
        .outerjoin(PlanStop, PlanStop.id == Visit.plan_stop_id)
        .where(Visit.checked_in_at >= start, Visit.checked_in_at < end)
        .group_by(Case.customer_id, Case.city)
    ).all()
    held = connection.execute(
        select(Case.customer_id, Case.city)
        .where(Case.cancel_reason == "holdout", Case.opened_on == day)
        .distinct()
    ).all()
    connection.execute(delete(VisitOutcome).where(VisitOutcome.day == day))
    people = [(c, city or "", "visited", int(n), int(m)) for c, city, n, m in visited]
    people += [(c, city or "", "holdout", 0, 0) for c, city in held]
    if not people:
        roll_up_outcomes(connection, day, day)
        return 0
    worst = _worst_dpd(connection, sorted({p[0] for p in people}), as_of)
    paid = _paid(connection, sorted({p[0] for p in people}), day, as_of)
    rows = [
        {
            "day": day,
            "customer_id": customer,
            "cohort": cohort,
            "city": city,
            "cured": worst.get(customer, 0) == 0,
            "recovered": paid.get(customer, 0),
            "visits": visits,
            "travel_m": travel,
        }
        for customer, city, cohort, visits, travel in people
    ]
    connection.execute(insert(VisitOutcome), rows)
    roll_up_outcomes(connection, day, day)
    return len(rows)


def _chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[n : n + size] for n in range(0, len(items), size)]  # bounded IN lists


def _worst_dpd(connection: Connection, customers: Sequence[str], as_of: date) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(customers):
        rows = connection.execute(
            select(Loan.customer_id, func.max(DelinquencySnapshot.dpd))
            .join(Loan, Loan.loan_id == DelinquencySnapshot.loan_id)
            .where(Loan.customer_id.in_(chunk), DelinquencySnapshot.as_of == as_of)
            .group_by(Loan.customer_id)
        )
        found.update({c: int(dpd) for c, dpd in rows})
    return found


def _paid(
    connection: Connection, customers: Sequence[str], first: date, last: date
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(customers):
        rows = connection.execute(
            select(Loan.customer_id, func.sum(Payment.amount))
            .join(Loan, Loan.loan_id == Payment.loan_id)
            .where(Loan.customer_id.in_(chunk), Payment.paid_on.between(first, last))
            .group_by(Loan.customer_id)
        )
        found.update({c: int(total) for c, total in rows})
    return found


@dataclass(frozen=True)
class Cohort:
    customers: int
    cured: int
    recovered: int  # fen
    visits: int
    travel_m: int


def roll_up_outcomes(connection: Connection, first: date, last: date) -> int:
    """Rewrite the outcome figures of the days `first`..`last` from `visit_outcomes`."""
    o = VisitOutcome
    connection.execute(delete(OutcomeFigure).where(OutcomeFigure.day.between(first, last)))
    query = (
        select(
            o.day,
            o.city,
            o.cohort,
            func.count(),
            func.sum(case((o.cured.is_(True), 1), else_=0)),
            func.sum(o.recovered),
            func.sum(o.visits),
            func.sum(o.travel_m),
        )
        .where(o.day.between(first, last))
        .group_by(o.day, o.city, o.cohort)
    )
    columns = ["day", "city", "cohort", "customers", "cured", "recovered", "visits", "travel_m"]
    return insert_from(connection, OutcomeFigure, columns, query)


def outcomes_since(
    connection: Connection, since: date, until: date, cities: Cities
) -> dict[str, Cohort]:
    o = OutcomeFigure
    query = (
        select(
            o.cohort,
            func.sum(o.customers),
            func.sum(o.cured),
            func.sum(o.recovered),
            func.sum(o.visits),
            func.sum(o.travel_m),
        )
        .where(o.day >= since, o.day <= until)
        .group_by(o.cohort)
    )
    if cities is not None:
        query = query.where(o.city.in_(cities))
    return {
        cohort: Cohort(int(n), int(cured or 0), int(paid or 0), int(v or 0), int(m or 0))
        for cohort, n, cured, paid, v, m in connection.execute(query)
    }
