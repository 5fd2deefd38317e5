"""The lender's feedback feed: one row per verdict in the order of change, paged by an
opaque cursor for the API and streamed whole into the daily file (CSV or JSON lines)."""

from __future__ import annotations

import base64
import binascii
import csv
import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain import bounds
from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import format_yuan
from doorstep.integrations.spreadsheet import safe_text
from doorstep.services.lender.permission import require
from doorstep.store.repositories import feedback as repo
from doorstep.store.repositories.feedback import FeedbackRow

FEEDBACK_COLUMNS = (
    "case_id",
    "loan_ids",
    "visit_id",
    "checked_in_at",
    "checked_out_at",
    "reached",
    "address_valid",
    "reason",
    "reasons",
    "hardship_or_evasion",
    "ability",
    "willingness",
    "ptp_amount",
    "ptp_date",
    "next_step",
    "reviewed_at",
    "verifier_ids",
    "evidence_sha256",
    "updated_at",
)
MAX_PAGE = 1000


def feedback_record(row: FeedbackRow) -> dict[str, Any]:
    """One row as the lender receives it: money as yuan strings ("1234.56"), times ISO."""
    return {
        "case_id": row.case_id,
        "loan_ids": row.loan_ids,
        "visit_id": row.visit_id,
        "checked_in_at": row.checked_in_at.isoformat(),
        "checked_out_at": row.checked_out_at.isoformat() if row.checked_out_at else None,
        "reached": row.reached,
        "address_valid": row.address_status,
        "reason": row.primary_reason,
        "reasons": row.reasons,
        "hardship_or_evasion": row.hardship_or_evasion,
        "ability": None if row.ability_per_month is None else format_yuan(row.ability_per_month),
        "willingness": row.willingness,
        "ptp_amount": None if row.ptp_amount is None else format_yuan(row.ptp_amount),
        "ptp_date": row.ptp_date.isoformat() if row.ptp_date else None,
        "next_step": row.next_step,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "verifier_ids": row.verifier_ids,
        "evidence_sha256": row.evidence_sha256,
        "updated_at": row.updated_at.isoformat(),
    }


def csv_cells(record: dict[str, Any]) -> list[str]:
    """A record flattened for CSV: lists joined by ';', booleans true/false, None empty,
    text that a spreadsheet would run as a formula quoted (`safe_text`)."""
    cells = []
    for column in FEEDBACK_COLUMNS:
        value = record[column]
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        elif isinstance(value, list):
            cells.append(safe_text(";".join(str(v) for v in value)))
        else:
            cells.append(safe_text(str(value)))
    return cells


def encode_cursor(row: FeedbackRow) -> str:
    raw = json.dumps([row.updated_at.isoformat(), row.verdict_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, verdict_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(verdict_id, int):
            raise ValueError
        bounds.in_calendar(moment.date(), "cursor")  # a forged one may hold anything
        return moment, bounds.in_range(verdict_id, "cursor")
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidValue(
            "cursor: not a cursor this feed returned", message_zh="cursor：无效的分页游标"
        ) from None


def feedback_page(
    session: Session,
    actor: Actor,
    since: datetime,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[FeedbackRow], str | None]:
    """A page of the feed and the cursor of the next one (None: nothing more for now)."""
    require(actor, Permission.READ_AUDIT)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(
            f"limit: must be between 1 and {MAX_PAGE}",
            message_zh=f"limit：须在 1 到 {MAX_PAGE} 之间",
        )
    if since.tzinfo is None:
        raise InvalidValue("since: needs a time zone", message_zh="since：须带时区")
    after = decode_cursor(cursor) if cursor else None
    rows = repo.feedback_page(session, since, after, limit)
    return rows, encode_cursor(rows[-1]) if len(rows) == limit else None


def iter_feedback(
    session: Session, since: datetime, *, until: datetime | None = None, batch: int = 500
) -> Iterator[FeedbackRow]:
    """Every row changed from `since` (until before `until`), read a page at a time in
    the order of change (the export)."""
    after: tuple[datetime, int] | None = None
    while True:
        rows = repo.feedback_page(session, since, after, batch)
        for row in rows:
            if until is not None and row.updated_at >= until:
                return
            yield row
        if len(rows) < batch:
            return
        after = (rows[-1].updated_at, rows[-1].verdict_id)


def write_feedback(
    session: Session,
    since: datetime,
    out: TextIO,
    *,
    until: datetime | None = None,
    jsonl: bool = False,
) -> int:
    """The lender's feedback file (DESIGN §5): CSV with a header, or JSON lines; returns
    the rows written."""
    writer = None if jsonl else csv.writer(out)
    if writer is not None:
        writer.writerow(FEEDBACK_COLUMNS)
    count = 0
    for row in iter_feedback(session, since, until=until):
        record = feedback_record(row)
        if writer is None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer.writerow(csv_cells(record))
        count += 1
    return count


def daily_file(folder: Path, day: date) -> Path:
    return folder / "feedback" / f"feedback-{day.isoformat()}.csv"


def write_daily_file(session: Session, day: date, zone: ZoneInfo, folder: Path) -> tuple[Path, int]:
    """The feedback file of one business day (every verdict last changed that day, local
    time), written whole under its final name or not at all; a rerun rewrites the same
    file. Returns (path, rows)."""
    target = daily_file(folder, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(day, time(0), zone)
    partial = target.with_name(target.name + ".part")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        rows = write_feedback(session, start, handle, until=start + timedelta(days=1))
    partial.replace(target)  # never a half-written file under the real name
    return target, rows
