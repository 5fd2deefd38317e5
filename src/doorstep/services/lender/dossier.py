"""The dossier (案件资料): one PDF per case for the visit day. It is built from the same
facts as the case page, under the same access rules (a verifier only while the case is
live-assigned to their team), and shows personal data masked: a verifier who needs a full
number reveals it on the page, with a reason, into the audit trail."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import fpdf
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import DoorstepError, KeyMaterialError, NotFound
from doorstep.domain.ports import Cipher
from doorstep.integrations import pdf
from doorstep.integrations.pdf import render_apart
from doorstep.services.cases.view import case_facts
from doorstep.services.conduct import audit
from doorstep.services.lender import dossier_blocks as layout
from doorstep.services.lender.dossier_blocks import OPTION_ZH, dossier_blocks, local_time
from doorstep.services.people import users
from doorstep.services.repayment import offers
from doorstep.store.models import User

__all__ = [
    "OPTION_ZH",
    "DossierCache",
    "cache_folder",
    "dossier_blocks",
    "dossier_pdf",
    "prepare_dossiers",
    "render_apart",
]


def cache_folder(var_dir: Path) -> Path:
    """Where the day's rendered dossiers are kept (the page and the batch share it)."""
    return var_dir / "cache" / "dossiers"


def dossier_pdf(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    zone: ZoneInfo,
    now: datetime,
    cipher: Cipher,
    cache_dir: Path | None = None,
    policy: offers.OfferPolicy | None = None,
) -> bytes:
    """The case's dossier as PDF bytes (its repayment options under `policy`); records
    who printed it in the audit trail.

    With `cache_dir`, a rendered document is kept there for the rest of the local day and
    served again while nothing in it would change: the file is named by a digest of
    everything the document shows (the blocks built from the case's current facts, the
    reader's name in the footer, the day, the renderer's code), so a payment, an attempt,
    a visit, a new snapshot or another reader's masking gives another file, never a stale
    one. The facts are still read, and access checked, on every request (a few indexed
    queries); only the rendering (about a second of CPU) is saved. The cached file is
    sealed with the personal-data cipher (the document shows contact notes and the
    verifier's addresses) and opened here, for the reader who asked."""
    document = _document(session, actor, case_id, zone, now, cipher, cache_dir, policy=policy)
    audit.record(session, actor, "case.dossier", "case", case_id, {"bytes": len(document)})
    return document


def _document(
    session: Session,
    actor: Actor,
    case_id: int,
    zone: ZoneInfo,
    moment: datetime,
    cipher: Cipher,
    cache_dir: Path | None,
    inline: bool = False,
    policy: offers.OfferPolicy | None = None,
) -> bytes:
    facts = case_facts(session, actor, case_id, moment, cipher)  # the case page's access rules
    today = moment.astimezone(zone).date()
    title = f"案件资料 · 案件 {facts.case.id}"
    blocks = dossier_blocks(facts, zone, session, today, policy)

    def render() -> bytes:
        printed = local_time(moment, zone)
        footer = f"内部资料，仅限本次上门使用 · {actor.username} · 生成于 {printed}"
        if inline:  # a worker's own process: nothing else waits on its interpreter lock
            return pdf.render(title, blocks, footer=footer)
        return render_apart(title, blocks, footer)

    if cache_dir is None:
        return render()
    content = repr((title, blocks, actor.username, today.isoformat(), _renderer()))
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:40]
    reader = f"u{actor.user_id}"
    return DossierCache(cache_dir, cipher).get_or_make(facts.case.id, reader, today, digest, render)


def prepare_dossiers(
    session: Session,
    readers: Sequence[tuple[int, int]],
    *,
    zone: ZoneInfo,
    cache_dir: Path,
    now: datetime,
    cipher: Cipher,
    inline: bool = False,
    policy: offers.OfferPolicy | None = None,
) -> tuple[int, int]:
    """Render ahead, into the cache, the dossier each (verifier's user id, case id) pair
    will open during the day, so the morning's downloads are file reads instead of a
    second of CPU each. Nothing is audited: printing is, when a verifier downloads. A pair
    the reader may not see (yet), or whose verifier left, is skipped. `inline` renders in
    this process (a worker) instead of the renderer process. `now` dates the documents
    (their day and footer). Returns (prepared, skipped)."""
    prepared = skipped = 0
    actors: dict[int, Actor | None] = {}  # one team lookup per verifier, not per case
    for user_id, case_id in readers:
        if user_id not in actors:
            user = session.get(User, user_id)
            actors[user_id] = users.actor_for(session, user) if user and user.active else None
        actor = actors[user_id]
        try:
            if actor is None:
                raise NotFound(f"user {user_id}")
            _document(session, actor, case_id, zone, now, cipher, cache_dir, inline, policy)
            prepared += 1
        except DoorstepError:
            skipped += 1
    return prepared, skipped


@cache
def _renderer() -> str:
    """The code that lays a dossier out: a deployment that changes it renders anew."""
    modules = (pdf, layout, sys.modules[__name__])
    sources = b"".join(Path(m.__file__ or "").read_bytes() for m in modules)
    return hashlib.sha256(sources + fpdf.__version__.encode()).hexdigest()


class DossierCache:
    """Rendered dossiers of the day, one file per case, reader and digest:
    `<day>/<case>-<reader>-<digest>.pdf.sealed`. Files are sealed with the personal-data
    cipher (a copy of the folder shows nothing) and private to the service's user, written
    whole (a temporary file renamed into place), and dropped when their day is over or the
    reader's document of the case changes."""

    SUFFIX = ".pdf.sealed"

    def __init__(self, folder: Path, cipher: Cipher) -> None:
        self.folder = folder
        self.cipher = cipher

    def get_or_make(
        self, case_id: int, reader: str, day: date, digest: str, make: Callable[[], bytes]
    ) -> bytes:
        today = self.folder / day.isoformat()
        path = today / f"{case_id}-{reader}-{digest}{self.SUFFIX}"
        try:
            return self.cipher.decrypt_bytes(path.read_bytes())
        except (FileNotFoundError, KeyMaterialError):  # a key rotated away: render anew
            pass
        document = make()
        today.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write(path, self.cipher.encrypt_bytes(document))
        for stale in today.glob(f"{case_id}-{reader}-*"):  # earlier versions of today
            if stale != path:
                stale.unlink(missing_ok=True)
        for folder in self.folder.iterdir():  # earlier days
            if folder.is_dir() and folder.name < today.name:
                shutil.rmtree(folder, ignore_errors=True)
        return document

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".incoming-{os.getpid()}-{threading.get_ident()}-{path.name}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
            os.replace(temporary, path)  # readers see the whole file or none
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
