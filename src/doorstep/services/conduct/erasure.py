"""Erasing what is kept of a person beyond their customer and contact rows: their portal
messages, booked windows and sessions, the notes written about them, their visits'
evidence (rows and the files on disk), the change log of the lender's files about them,
and the cached dossiers of their cases. Used by retention (when the time is up) and by a
deletion request (when no legal hold stands in the way).

Evidence files are removed only once the transaction that deleted their rows commits
(a rollback leaves every file where it was), and only when no other row names the same
content (the store is content-addressed: two visits may share a photo)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from doorstep.integrations.evidence import EvidenceStore
from doorstep.store.models import Evidence
from doorstep.store.repositories import privacy as repo

_PENDING = "doorstep.erasure.files"


@dataclass(frozen=True)
class Erased:
    messages: int = 0
    evidence_rows: int = 0
    evidence_files: int = 0  # files removed at commit (none named by another row)
    changes: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "evidence_rows": self.evidence_rows,
            "evidence_files": self.evidence_files,
            "changes": self.changes,
        }


def erase_records(
    session: Session, customer_ids: Sequence[str], store: EvidenceStore | None
) -> Erased:
    """Delete these customers' messages and portal rows, clear the notes about them,
    delete their evidence rows (and, at commit, the files no other row names) and their
    change-log rows. The caller decides that they are due (no legal hold)."""
    if not customer_ids:
        return Erased()
    session.flush()
    evidence, unnamed = _evidence(session, customer_ids)
    messages = repo.delete_portal_rows(session, customer_ids)
    repo.clear_notes(session, customer_ids)
    repo.delete_evidence_rows(session, [e.id for e in evidence])
    if store is not None:
        remove_at_commit(session, store, unnamed)
    changes = repo.delete_changes_of(session, customer_ids)
    session.expire_all()  # the bulk statements changed rows the session may hold
    return Erased(messages, len(evidence), len(unnamed) if store else 0, changes)


def planned(session: Session, customer_ids: Sequence[str]) -> Erased:
    """What `erase_records` would delete for these customers (a dry run)."""
    if not customer_ids:
        return Erased()
    evidence, unnamed = _evidence(session, customer_ids)
    return Erased(
        repo.count_messages_of(session, customer_ids),
        len(evidence),
        len(unnamed),
        repo.count_changes_of(session, customer_ids),
    )


def _evidence(session: Session, customer_ids: Sequence[str]) -> tuple[list[Evidence], list[str]]:
    """(the customers' evidence rows, the digests no other row names)."""
    evidence = repo.evidence_of_customers(session, customer_ids)
    digests = sorted({e.sha256 for e in evidence})
    named = repo.named_evidence(session, digests, besides=[e.id for e in evidence])
    return evidence, [d for d in digests if d not in named]


def remove_at_commit(session: Session, store: EvidenceStore, digests: Sequence[str]) -> None:
    """Remove these evidence files when the session's transaction commits."""
    session.info.setdefault(_PENDING, []).extend((store, d) for d in digests)


@orm_event.listens_for(Session, "after_commit")
def _remove_files(session: Session) -> None:
    for store, digest in session.info.pop(_PENDING, []):
        store.remove(digest)


@orm_event.listens_for(Session, "after_rollback")
def _keep_files(session: Session) -> None:
    session.info.pop(_PENDING, None)


def sweep_dossier_cache(
    folder: Path | None, today: date, case_ids: Sequence[int] = (), *, dry_run: bool = False
) -> int:
    """Remove the cached dossiers whose day is over, and today's of `case_ids` (the
    cache keeps a day's documents only for that day: `<day>/<case>-<reader>-…pdf`).
    How many files went (or would go, in a dry run)."""
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for day in sorted(p for p in folder.iterdir() if p.is_dir()):
        over = day.name < today.isoformat()
        files = [
            path
            for path in day.glob("*.pdf")
            if over or any(path.name.startswith(f"{c}-") for c in case_ids)
        ]
        removed += len(files)
        if dry_run:
            continue
        if over:
            shutil.rmtree(day, ignore_errors=True)
        for path in files:
            path.unlink(missing_ok=True)
    return removed
