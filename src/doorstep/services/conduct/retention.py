"""Retention: how long records are kept (the pack's record rule), and minimising the
personal data of customers whose cases are all over, unless a legal hold keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.rules import Pack
from doorstep.services.conduct import audit
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import conduct as repo
from doorstep.store.repositories import personal_data as personal_repo

MINIMISED = "minimised"
_OVER = frozenset({"closed", "cancelled"})


@dataclass(frozen=True)
class RetentionLine:
    table: str
    rule: str
    keep_years: int
    rows: int
    past_period: int  # rows older than the period
    legal_hold: int  # of those, kept because a hold applies
    action: str


def _records_years(pack: Pack) -> tuple[str, int]:
    for rule in pack.rules:
        for key in ("min_years", "years"):
            if rule.kind == "record" and key in rule.params:
                return rule.id, int(rule.params[key])
    return "(none in pack)", 6


def _years_before(now: datetime, years: int) -> datetime:
    return now - timedelta(days=round(365.25 * years))


def _record_lines(session: Session, now: datetime, pack: Pack) -> list[RetentionLine]:
    """One line per kept record table: its rows and those older than the minimum."""
    rule_id, years = _records_years(pack)
    lines = []
    for table, total, old in repo.records_before(session, _years_before(now, years)):
        action = (
            "keep (audit chain is never cut)"
            if table == "audit_events"
            else ("eligible for deletion" if old else "keep: within the minimum")
        )
        lines.append(RetentionLine(table, rule_id, years, total, old, 0, action))
    return lines


def _due_customers(session: Session, now: datetime, years: int) -> tuple[list[str], int]:
    """(customers whose personal data is due for minimising, how many more a hold keeps):
    every case of theirs over and untouched for `years`."""
    cutoff = _years_before(now, years)
    held, due = 0, []
    for customer_id, items in case_repo.cases_by_customer(session).items():
        if not all(c.state in _OVER for c in items):
            continue
        if max(c.updated_at for c in items) >= cutoff:
            continue
        if any(c.hold_reason or repo.active_holds(session, c.id, now) for c in items):
            held += 1
        else:
            due.append(customer_id)
    return due, held


def retention_report(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    pack: Pack,
    personal_data_years: int,
    dry_run: bool = True,
) -> list[RetentionLine]:
    """What retention would do at `now`: per table, the rows past their period and those a
    legal hold keeps. Records are kept at least the pack's minimum (CN-RETENTION: 5 years);
    personal data of customers whose cases are all closed or cancelled is due for
    minimising after `personal_data_years` unless a hold is active. The dry run only
    reports; the real run also minimises (`minimise_personal_data`). Both are audited.
    Records themselves are not deleted here: the audit chain is never cut, and deleting
    old contact logs is left to the operator's archive policy (the report says which)."""
    lines = _record_lines(session, now, pack)
    due, held = _due_customers(session, now, personal_data_years)
    lines.append(
        RetentionLine(
            "customers (personal data)",
            "PIPL Arts 19, 47",
            personal_data_years,
            repo.customer_count(session),
            len(due) + held,
            held,
            ("minimise" if dry_run else f"minimised {len(due)}") if due else "nothing due",
        )
    )
    if not dry_run:
        minimise_personal_data(session, due)
    audit.record(
        session,
        actor,
        "retention.dry_run" if dry_run else "retention.run",
        "retention",
        now.date().isoformat(),
        {line.table: {"past": line.past_period, "held": line.legal_hold} for line in lines}
        | ({} if dry_run else {"minimised_customers": sorted(due)}),
    )
    return lines


def minimise_personal_data(session: Session, customer_ids: list[str]) -> int:
    """Keep what the records need (ids, masked forms, region, amounts, verdicts) and drop
    the rest of these customers' personal data: the encrypted national ID, phones and
    addresses and their lookup hashes, the full name (surname kept), the employer, the
    positions of their addresses, the positions of their visits and the free text of their
    interviews. Idempotent: minimised data stays minimised."""
    done = 0
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start : start + 500]
        for customer in personal_repo.customers_in(session, chunk):
            customer.name = (customer.name[:1] + "*") if customer.name else ""
            customer.id_number, customer.id_number_hash = "", MINIMISED
            customer.employer, customer.extra = None, None
            done += 1
        for point in personal_repo.contact_points_of_customers(session, chunk):
            # the hash stays unique per point (it is part of the point's natural key)
            point.value, point.value_hash = "", f"{MINIMISED}-{point.id}"
            point.position = point.position_hash = None
            point.extra = None
        personal_repo.forget_visit_details(session, chunk)
    session.flush()
    return done
