"""The copy a person gets for an access request (PIPL Art. 45): a ZIP file a staff member
hands over, with everything stored of them in clear (decrypted) in `data.json`, their
visit photos and recordings under `evidence/`, and a README in Chinese and English.

A borrower gets every row about them. A third party gets only their own number, name and
the calls made to it: never whose contact they are, nor anything of the debt
(CN-THIRD-PARTY-CLASS)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.errors import InvalidValue
from doorstep.domain.ports import Cipher
from doorstep.domain.privacy import RequestKind, State, Subject
from doorstep.integrations.evidence import EvidenceStore
from doorstep.services.conduct import audit, personal_data
from doorstep.services.conduct.privacy_requests import get_request
from doorstep.store.models import PrivacyRequest
from doorstep.store.repositories import personal_data as personal_repo
from doorstep.store.repositories import privacy as repo

LEFT_OUT = frozenset({"partition_slot", "version", "idempotency_key"})
"""Bookkeeping columns that say nothing about the person."""
THIRD_PARTY_POINT = ("channel", "kind", "value", "relation", "source", "observed_at", "extra")
THIRD_PARTY_ATTEMPT = ("attempted_at", "channel", "result", "connected")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "audio/mp4": "m4a"}
README = """个人信息副本 / Copy of your personal information

data.json: 我们保存的您的全部个人信息，按数据表列出（金额单位为分，时间为 UTC）。
           Everything we store about you, table by table (amounts in fen, 1/100 yuan;
           times in UTC).
evidence/: 上门核实时拍摄的照片和录音（如有）。
           Photos and recordings made at a visit (if any).

如需更正或删除，请联系我们并注明申请编号 {request_id}。
To have anything corrected or deleted, contact us quoting request {request_id}.
"""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _opened(cipher: Cipher, column: str, token: str) -> Any:
    """A sealed value in clear: a position as {lat, lng}, a sealed document as JSON, any
    other text as it was written."""
    if column in personal_repo.SEALED_JSON:
        return personal_data.unseal_json(cipher, token)
    if column in personal_repo.SEALED_POSITIONS:
        lat, lng = personal_data.unseal_position(cipher, token) or (None, None)
        return {"lat": lat, "lng": lng}
    return cipher.decrypt(token)


def _row(row: Any, cipher: Cipher, columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A row's columns as JSON values, sealed ones opened, lookup hashes left out."""
    encrypted = {
        column.key for model, _, column in personal_repo.ENCRYPTED if isinstance(row, model)
    }
    found: dict[str, Any] = {}
    for attribute in inspect(row).mapper.column_attrs:
        name = attribute.key
        if (columns and name not in columns) or name in LEFT_OUT or name.endswith("_hash"):
            continue
        value = getattr(row, name)
        if name in encrypted and value:
            value = _opened(cipher, f"{row.__tablename__}.{name}", value)
        found[name] = _plain(value)
    return found


def borrower_data(
    session: Session, customer_id: str, cipher: Cipher
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(every table's rows about the borrower, their evidence files as (sha256, type))."""
    rows = repo.borrower_rows(session, customer_id)
    data = {table: [_row(r, cipher) for r in items] for table, items in rows.items()}
    return data, [(e.sha256, e.media_type) for e in rows["visit_evidence"]]


def third_party_data(session: Session, phone_hash: str, cipher: Cipher) -> dict[str, Any]:
    points = repo.points_with_hash(session, phone_hash)
    attempts = repo.attempts_on(session, [p.id for p in points])
    return {
        "contact_points": [_row(p, cipher, THIRD_PARTY_POINT) for p in points],
        "contact_attempts": [_row(a, cipher, THIRD_PARTY_ATTEMPT) for a in attempts],
    }


def _zip(request: PrivacyRequest, data: dict[str, Any], files: list[tuple[str, bytes]]) -> bytes:
    stamp = request.received_at.timetuple()[:6]  # fixed times: the same data, the same file
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        document = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
        for name, content in (
            ("README.txt", README.format(request_id=request.id).encode("utf-8")),
            ("data.json", document.encode("utf-8")),
            *files,
        ):
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), content)
    return buffer.getvalue()


def export(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    cipher: Cipher,
    store: EvidenceStore | None,
    now: datetime,
) -> tuple[str, bytes]:
    """(file name, ZIP bytes) of a verified access request's copy; its SHA-256 goes into
    the audit event, so what was handed over can be proved later. The request row is not
    changed (a form the handler opened before the download stays current)."""
    request = get_request(session, actor, request_id)
    if request.kind != RequestKind.ACCESS or State(request.state) not in (
        State.VERIFIED,
        State.IN_PROGRESS,
    ):
        raise InvalidValue(
            "only a verified access request gets a copy",
            message_zh="仅已核实身份的查阅申请可生成副本",
        )
    files: list[tuple[str, bytes]] = []
    if request.subject == Subject.BORROWER:
        data, evidence = borrower_data(session, request.customer_id or "", cipher)
        for digest, media in evidence:
            if store is not None and store.exists(digest):
                name = f"evidence/{digest}.{EXTENSIONS.get(media, 'bin')}"
                files.append((name, store.get(digest)))
    else:
        data = third_party_data(session, request.phone_hash or "", cipher)
    document = _zip(request, {"request": request.id, **data}, files)
    digest = hashlib.sha256(document).hexdigest()
    audit.record(
        session,
        actor,
        "privacy.export",
        "privacy_request",
        request.id,
        {"state": request.state, "sha256": digest, "bytes": len(document), "files": len(files)},
    )
    return f"privacy-request-{request.id}.zip", document
