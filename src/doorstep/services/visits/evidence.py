"""A visit's evidence on the service side: uploads typed by their content, stored under
their hash with a row each (a photo's EXIF far from the check-in flags the visit), and
the check that every stored file is still the one the submission's audit event names,
and the files no row names (orphans)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from doorstep.domain import checkin
from doorstep.domain.access import Actor
from doorstep.domain.errors import InvalidAnswers
from doorstep.integrations import evidence as files
from doorstep.services.conduct import audit, personal_data
from doorstep.services.visits.interview import Problem
from doorstep.services.visits.rules import VisitRules
from doorstep.store.models import Evidence, Visit
from doorstep.store.repositories import privacy as privacy_repo
from doorstep.store.repositories import visits as repo


@dataclass(frozen=True)
class Upload:
    name: str | None
    data: bytes


def check_uploads(uploads: Sequence[Upload], max_bytes: int) -> list[tuple[Upload, str]]:
    """Each upload with its media type from its content, or every refusal at once."""
    problems: list[Problem] = []
    checked = []
    limit_mb = f"{max_bytes / 1024 / 1024:.0f}"
    for upload in uploads:
        name = (upload.name or "?")[:80]
        if len(upload.data) > max_bytes:
            problems.append(
                Problem(
                    "evidence",
                    f"evidence: {name} is larger than {limit_mb} MB",
                    f"证据：{name} 超过 {limit_mb} MB",
                )
            )
            continue
        media = files.sniff(upload.data[:64])
        if media is None:
            problems.append(
                Problem(
                    "evidence",
                    f"evidence: {name} is not a JPEG, PNG or HEIC photo "
                    "nor an M4A or MP3 recording",
                    f"证据：{name} 不是 JPEG、PNG、HEIC 照片或 M4A、MP3 录音",
                )
            )
            continue
        checked.append((upload, media))
    if problems:
        raise InvalidAnswers(problems)
    return checked


def store_evidence(
    session: Session,
    actor: Actor,
    visit: Visit,
    checked: Sequence[tuple[Upload, str]],
    *,
    store: files.EvidenceStore,
    rules: VisitRules,
    now: datetime,
) -> list[str]:
    """Store each checked upload under its SHA-256 with an evidence row of the visit;
    returns the hashes in upload order."""
    hashes = []
    for upload, media in checked:
        digest = store.put(upload.data)
        exif = files.read_exif(upload.data, media, rules.zone)
        session.add(
            Evidence(
                visit_id=visit.id,
                sha256=digest,
                media_type=media,
                size_bytes=len(upload.data),
                original_name=(upload.name or "")[:255] or None,
                exif_position=personal_data.seal_position(rules.cipher, exif.lat, exif.lng),
                exif_taken_at=exif.taken_at,
                uploaded_at=now,
                uploaded_by=actor.user_id,
            )
        )
        hashes.append(digest)
        _flag_exif(visit, exif, rules)
    return hashes


def _flag_exif(visit: Visit, exif: files.Exif, rules: VisitRules) -> None:
    """Flag the visit (once per flag) when the photo was taken far from the check-in's
    position or time."""
    opened = personal_data.unseal_position(rules.cipher, visit.position)
    where = checkin.Point(*opened) if opened is not None else None
    shot = (
        checkin.Point(exif.lat, exif.lng) if exif.lat is not None and exif.lng is not None else None
    )
    flags = checkin.exif_flags(where, visit.checked_in_at, shot, exif.taken_at, rules.limits)
    for flag in flags:
        if flag.value not in visit.flags:
            visit.flags = [*visit.flags, flag.value]


@dataclass(frozen=True)
class EvidenceProblem:
    evidence_id: int
    sha256: str
    problem: str  # missing | changed | not_audited


def verify_evidence(session: Session, store: files.EvidenceStore) -> list[EvidenceProblem]:
    """Every stored file still hashes to its name, and every hash is in the audit trail
    of its visit's submission: a file changed or swapped later shows up here."""
    audited: set[str] = set()
    for summary in repo.submission_summaries(session):
        audited.update(summary.get("evidence_sha256") or [])
    problems = []
    for item in repo.all_evidence(session):
        if not store.exists(item.sha256):
            problems.append(EvidenceProblem(item.id, item.sha256, "missing"))
        elif files.sha256_of(store.get(item.sha256)) != item.sha256:
            problems.append(EvidenceProblem(item.id, item.sha256, "changed"))
        elif item.sha256 not in audited:
            problems.append(EvidenceProblem(item.id, item.sha256, "not_audited"))
    return problems


ORPHAN_GRACE = timedelta(hours=1)
"""A file younger than this may belong to a submission whose transaction has not
committed yet (the file is written first, its row at commit): never removed."""


@dataclass(frozen=True)
class Orphan:
    sha256: str
    written_at: datetime
    removed: bool


def orphan_evidence(
    session: Session,
    store: files.EvidenceStore,
    actor: Actor,
    *,
    now: datetime,
    remove: bool = False,
) -> list[Orphan]:
    """Files in the store that no evidence row names: left by a submission that failed
    after writing its files, or by rows deleted without their files. Personal data that
    nothing accounts for, so `remove` deletes those older than `ORPHAN_GRACE` (audited)."""
    named = privacy_repo.all_evidence_names(session)
    orphans = []
    for digest, written_at in store.stored():
        if digest in named:
            continue
        removable = remove and now - written_at > ORPHAN_GRACE
        orphans.append(Orphan(digest, written_at, removable and store.remove(digest)))
    removed = [o.sha256 for o in orphans if o.removed]
    if removed:
        audit.record(
            session, actor, "evidence.remove_orphans", "evidence", "store", {"removed": removed}
        )
    return orphans
