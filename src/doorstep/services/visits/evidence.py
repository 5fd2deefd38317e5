"""A visit's evidence on the service side: uploads typed by their content, stored under
their hash with a row each (a photo's EXIF far from the check-in flags the visit), and
the check that every stored file is still the one the submission's audit event names,
and the files no row names (orphans)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy.orm import Session

from doorstep.domain import checkin
from doorstep.domain.access import Actor
from doorstep.domain.errors import InvalidAnswers, InvalidValue
from doorstep.integrations import evidence as files
from doorstep.services.conduct import audit, personal_data
from doorstep.services.visits.interview import Problem
from doorstep.services.visits.rules import VisitRules
from doorstep.store.db import undo_on_rollback
from doorstep.store.models import Evidence, Visit
from doorstep.store.repositories import privacy as privacy_repo
from doorstep.store.repositories import visits as repo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    name: str | None
    data: bytes


@dataclass(frozen=True)
class Checked:
    """An upload that may be kept: its type from its content, and its photo's EXIF."""

    upload: Upload
    media: str
    exif: files.Exif


def check_uploads(uploads: Sequence[Upload], max_bytes: int, zone: tzinfo = UTC) -> list[Checked]:
    """Each upload with its media type from its content and its EXIF (times without an
    offset read in `zone`), or every refusal at once: too large, not a photo or recording,
    a photo declaring more pixels than allowed. Nothing is written."""
    problems: list[Problem] = []
    checked = []
    limit_mb = f"{max_bytes / 1024 / 1024:.0f}"
    for upload in uploads:
        name = (upload.name or "?")[:80]
        media = files.sniff(upload.data[:64]) if len(upload.data) <= max_bytes else None
        if len(upload.data) > max_bytes:
            en, zh = f"is larger than {limit_mb} MB", f"超过 {limit_mb} MB"
        elif media is None:
            en = "is not a JPEG, PNG or HEIC photo nor an M4A or MP3 recording"
            zh = "不是 JPEG、PNG、HEIC 照片或 M4A、MP3 录音"
        else:
            try:
                checked.append(Checked(upload, media, files.read_exif(upload.data, media, zone)))
                continue
            except InvalidValue as exc:  # a decompression bomb's header
                en, zh = exc.message, exc.message_zh
        problems.append(Problem("evidence", f"evidence: {name} {en}", f"证据：{name} {zh}"))
    if problems:
        raise InvalidAnswers(problems)
    return checked


def store_evidence(
    session: Session,
    actor: Actor,
    visit: Visit,
    checked: Sequence[Checked],
    *,
    store: files.EvidenceStore,
    rules: VisitRules,
    now: datetime,
) -> list[str]:
    """Store each checked upload under its SHA-256 with an evidence row of the visit;
    returns the hashes in upload order. A file this submission adds is removed again if
    its transaction rolls back, so no file is left that no row names."""
    hashes: list[str] = []
    added: list[str] = []

    def remove_added() -> None:
        for digest in added:
            try:
                store.remove(digest)
            except OSError:  # left for `batch evidence` to report; the rollback goes on
                logger.exception("evidence %s not removed after a rollback", digest)

    undo_on_rollback(session, remove_added)
    for item in checked:
        fresh = not store.exists(files.sha256_of(item.upload.data))
        digest = store.put(item.upload.data)
        if fresh:
            added.append(digest)
        session.add(
            Evidence(
                visit_id=visit.id,
                sha256=digest,
                media_type=item.media,
                size_bytes=len(item.upload.data),
                original_name=(item.upload.name or "")[:255] or None,
                exif_position=personal_data.seal_position(
                    rules.cipher, item.exif.lat, item.exif.lng
                ),
                exif_taken_at=item.exif.taken_at,
                uploaded_at=now,
                uploaded_by=actor.user_id,
            )
        )
        hashes.append(digest)
        _flag_exif(visit, item.exif, rules)
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
