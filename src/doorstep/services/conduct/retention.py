"""Retention: how long records are kept (the pack's record rule), and minimising the
personal data of customers whose cases are all over, unless a legal hold keeps it: their
rows minimised, and their messages, notes, evidence files, change log and cached
dossiers deleted (`erasure`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.rules import Pack
from doorstep.integrations.evidence import EvidenceStore
from doorstep.services.conduct import audit, erasure
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import conduct as repo
from doorstep.store.repositories import personal_data as personal_repo
from doorstep.store.repositories import privacy as privacy_repo

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


def records_years(pack: Pack) -> tuple[str, int]:
    for rule in pack.rules:
        for key in ("min_years", "years"):
            if rule.kind == "record" and key in rule.params:
                return rule.id, int(rule.params[key])
    return "(none in pack)", 6


def years_before(now: datetime, years: int) -> datetime:
    return now - timedelta(days=round(365.25 * years))


def _record_lines(session: Session, now: datetime, pack: Pack) -> list[RetentionLine]:
    """One line per kept record table: its rows and those older than the minimum."""
    rule_id, years = records_years(pack)
    lines = []
    for table, total, old in repo.records_before(session, years_before(now, years)):
        action = (
            "keep (audit chain is never cut)"
            if table == "audit_events"
            else ("eligible for deletion" if old else "keep: within the minimum")
        )
        lines.append(RetentionLine(table, rule_id, years, total, old, 0, action))
    return lines


def _due_customers(session: Session, now: datetime, years: int) -> tuple[list[str], list[str]]:
    """(customers whose personal data is due for minimising, those a hold keeps): every
    case of theirs over and untouched for `years`."""
    cutoff = years_before(now, years)
    held, due = [], []
    for customer_id, items in case_repo.cases_by_customer(session).items():
        if not all(c.state in _OVER for c in items):
            continue
        if max(c.updated_at for c in items) >= cutoff:
            continue
        if any(c.hold_reason or repo.active_holds(session, c.id, now) for c in items):
            held.append(customer_id)
        else:
            due.append(customer_id)
    return due, held


@dataclass(frozen=True)
class Stores:
    """Where retention also deletes files: the evidence store and the dossier cache."""

    evidence: EvidenceStore | None = None
    dossier_cache: Path | None = None


def retention_report(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    pack: Pack,
    personal_data_years: int,
    dry_run: bool = True,
    stores: Stores | None = None,
) -> list[RetentionLine]:
    """What retention would do at `now`: per table, the rows past their period and those a
    legal hold keeps. Records are kept at least the pack's minimum (CN-RETENTION: 5 years);
    personal data of customers whose cases are all closed or cancelled is due after
    `personal_data_years` unless a hold is active: their customer and contact rows are
    minimised, and their portal messages, notes, visit evidence (rows and files), change
    log and cached dossiers are deleted (`erasure`); cached dossiers of days gone by are
    deleted in any case. The dry run only reports; the real run also acts. Both are
    audited. Records themselves are not deleted here: the audit chain is never cut, and
    deleting old contact logs is left to the operator's archive policy (the report says
    which)."""
    stores = stores or Stores()
    lines = _record_lines(session, now, pack)
    due, held = _due_customers(session, now, personal_data_years)
    customers = repo.customer_count(session)
    lines += _erasure_lines(session, now, pack, due, held, personal_data_years, dry_run, stores)
    lines.append(
        RetentionLine(
            "customers (personal data)",
            "PIPL Arts 19, 47",
            personal_data_years,
            customers,
            len(due) + len(held),
            len(held),
            ("minimise" if dry_run else f"minimised {len(due)}") if due else "nothing due",
        )
    )
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


def _erasure_lines(
    session: Session,
    now: datetime,
    pack: Pack,
    due: list[str],
    held: list[str],
    years: int,
    dry_run: bool,
    stores: Stores,
) -> list[RetentionLine]:
    """The lines of what goes with a customer's personal data, acted on unless a dry run."""
    totals = privacy_repo.row_counts(session)
    kept = erasure.planned(session, held)
    today = now.astimezone(pack.default_zone).date()
    case_ids = privacy_repo.case_ids_of(session, due)
    if dry_run:
        done = erasure.planned(session, due)
        cached = erasure.sweep_dossier_cache(stores.dossier_cache, today, case_ids, dry_run=True)
    else:
        minimise_personal_data(session, due)
        done = erasure.erase_records(session, due, stores.evidence)
        cached = erasure.sweep_dossier_cache(stores.dossier_cache, today, case_ids)

    def line(table: str, total: int, past: int, held_rows: int, what: str) -> RetentionLine:
        action = "nothing due" if not past else (what if dry_run else f"deleted {past}")
        return RetentionLine(
            table, "PIPL Arts 19, 47", years, total, past + held_rows, held_rows, action
        )

    files = f", {done.evidence_files} file(s)" if stores.evidence else ""
    return [
        line(
            "borrower_messages", totals["borrower_messages"], done.messages, kept.messages, "delete"
        ),
        line(
            "visit_evidence (rows and files)",
            totals["visit_evidence"],
            done.evidence_rows,
            kept.evidence_rows,
            f"delete{files}",
        ),
        line("ingest_changes", totals["ingest_changes"], done.changes, kept.changes, "delete"),
        RetentionLine(
            "dossier cache (files)",
            "the day it was made for",
            0,
            cached,
            cached,
            0,
            ("delete" if dry_run else f"deleted {cached}") if cached else "nothing due",
        ),
    ]


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
