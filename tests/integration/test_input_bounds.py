"""Hostile values, each once, through the API and the pages on SQLite and PostgreSQL: a 4xx
problem or a page that says what is wrong, never a 5xx or a dropped connection, and
nothing written. (The generated-input fuzzers: tests/api/test_fuzz.py for the JSON API,
tests/integration/test_page_fuzz.py for the pages and their forms.)"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select

from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, Evidence, Verdict, Visit
from tests.factories.people import bearer
from tests.factories.visits import assigned_case_scheduled
from tests.factories.web import make_app
from tests.factories.world import ANYTIME_RULES, World, build_world
from tests.integration.test_visits import HOME
from tests.integration.test_visits_web import FORM, photo

pytestmark = pytest.mark.db

PAST_INT64 = str(2**63 + 1)
PAGE = {"accept": "text/html", "accept-language": "en"}


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    return build_world(engine, tmp_path, keys, then=assigned_case_scheduled)


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path) -> FastAPI:
    return make_app(engine, world, tmp_path, rules_file=ANYTIME_RULES, visit_hours="00:00-23:59")


def refused_in_words(response: Response, *words: str) -> None:
    """A 422 page (HTML, not a stack trace) that names what is wrong."""
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    for word in words:
        assert word in response.text, (word, response.text[:500])


def refused_as_problem(response: Response, *words: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    for word in words:
        assert word in response.json()["detail"], (word, response.json())


def audit_count(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


# --- numbers past int64 in the case list -----------------------------------------------


def test_page_and_amount_past_int64_in_the_case_list(client: TestClient, engine: Engine) -> None:
    admin = bearer(engine, "admin")
    for query in ({"page": PAST_INT64}, {"min_amount": PAST_INT64}, {"max_amount": "9" * 30}):
        refused_as_problem(client.get("/api/cases", params=query, headers=admin))
        name = next(iter(query))
        refused_in_words(client.get("/cases", params=query, headers={**admin, **PAGE}), name)
    refused_in_words(
        client.get("/cases", params={"min_dpd": PAST_INT64}, headers={**admin, **PAGE}),
        "min_dpd",
    )


# --- dates outside the calendar --------------------------------------------------------

OUTSIDE = [
    ("/api/feedback", {"since": "0001-01-01"}, "since"),
    ("/api/feedback", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/api/feedback", {"since": "9999-12-31T23:59:59-12:00"}, "since"),
    ("/dashboard/report.pdf", {"month": "0001-01"}, "month"),
    ("/dashboard/report.pdf", {"month": "9999-12"}, "month"),
    ("/dashboard/report.csv", {"end": "9999-12-31"}, "end"),
    ("/dashboard", {"until": "0001-01-01"}, "until"),
    ("/rules/report", {"start": "0001-01-01"}, "start"),
    ("/rules/report.csv", {"end": "9999-12-31"}, "end"),
    ("/day", {"date": "9999-12-31"}, "date"),
]


@pytest.mark.parametrize(("path", "query", "field"), OUTSIDE)
def test_dates_outside_the_calendar_are_refused(
    path: str, query: dict[str, str], field: str, client: TestClient, engine: Engine
) -> None:
    who = "verifier" if path == "/day" else "admin"
    headers = bearer(engine, who)
    if path.startswith("/api"):
        refused_as_problem(client.get(path, params=query, headers=headers), field)
    else:
        refused_in_words(client.get(path, params=query, headers={**headers, **PAGE}), field)


def forged_cursor(at: str, verdict_id: int) -> str:
    """A cursor shaped like the feed's own (base64 of JSON [time, id]), holding anything."""
    return base64.urlsafe_b64encode(json.dumps([at, verdict_id]).encode()).decode()


def test_a_forged_feed_cursor_outside_the_bounds_is_refused(
    client: TestClient, engine: Engine
) -> None:
    admin = bearer(engine, "admin")
    for at, verdict_id in (
        ("0001-01-01T00:00:00+14:00", 1),
        ("9999-12-31T23:59:59-12:00", 1),
        ("2024-06-01T00:00:00+00:00", 2**70),
    ):
        cursor = forged_cursor(at, verdict_id)
        refused_as_problem(client.get("/api/feedback", params={"cursor": cursor}, headers=admin))


def test_a_form_date_outside_the_calendar_is_refused_and_nothing_starts(
    client: TestClient, engine: Engine
) -> None:
    admin = {**bearer(engine, "admin"), **PAGE}
    before = audit_count(engine)
    for day in ("0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"):
        refused_in_words(client.post("/batch/run", data={"as_of": day}, headers=admin), "as_of")
        refused_in_words(client.post("/plans", data={"city": "北京市", "day": day}, headers=admin))
    assert audit_count(engine) == before


# --- a decompression bomb, and files of a submission that failed ------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares width × height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0"))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def checked_in(client: TestClient, engine: Engine, world: World) -> tuple[int, dict[str, str]]:
    me = bearer(engine, "verifier")
    done = client.post(
        f"/cases/{world.assigned_case}/check-in",
        data={"lat": str(HOME[0]), "lng": str(HOME[1]), "accuracy": "10"}
        | {"partner_present": "true", "id_shown": "true", "recording_on": "true"},
        headers=me,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return int(done.headers["location"].rsplit("/", 1)[1]), me


def stored_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "var" / "evidence").rglob("*") if p.is_file()]


def submitted(engine: Engine, visit_id: int) -> tuple[str, int]:
    with transaction(engine) as session:
        visit = session.get_one(Visit, visit_id)
        rows = session.scalar(select(func.count()).select_from(Evidence)) or 0
        return visit.state, int(rows)


@pytest.mark.parametrize("size", [(30_000, 30_000), (10_000, 10_000)], ids=["error", "warning"])
def test_a_photo_declaring_too_many_pixels_is_refused_and_nothing_is_kept(
    size: tuple[int, int], client: TestClient, engine: Engine, world: World, tmp_path: Path
) -> None:
    """30000×30000 is past twice Pillow's limit (its DecompressionBombError); 10000×10000
    is between the limit and twice it, where Pillow only warns: both refused, in words."""
    bomb = png_declaring(*size)
    assert len(bomb) < 80
    visit_id, me = checked_in(client, engine, world)
    answer = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "bomb-key-01"},
        files={"evidence": ("door.png", bomb, "image/png")},
        headers=me,
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"] == "evidence" and "door.png" in problem["message"]
    assert "million" in problem["message"] or "百万像素" in problem["message"]
    assert stored_files(tmp_path) == []
    assert submitted(engine, visit_id) == ("checked_in", 0)


def test_files_of_a_submission_that_does_not_commit_are_removed(
    client: TestClient, engine: Engine, world: World, tmp_path: Path
) -> None:
    """The submission writes its evidence, then its verdict clashes with one already
    there (the database refuses the row): the transaction rolls back, and so do the files."""
    visit_id, me = checked_in(client, engine, world)
    with transaction(engine) as session:  # a verdict already names the visit
        session.add(
            Verdict(
                case_id=world.assigned_case, visit_id=visit_id, reached=False,
                address_status="valid", reasons=[], hardship_or_evasion="unreached",
                next_step="monitor",
            )
        )  # fmt: skip
    answer = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "clash-key-01"},
        files={"evidence": ("door.png", photo(), "image/png")},
        headers=me,
    )
    assert answer.status_code == 409, answer.text
    assert stored_files(tmp_path) == []
    assert submitted(engine, visit_id) == ("checked_in", 0)
    # the same photo in a submission that commits is kept
    with transaction(engine) as session:
        session.execute(Verdict.__table__.delete().where(Verdict.visit_id == visit_id))
    answer = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "clash-key-02"},
        files={"evidence": ("door.png", photo(), "image/png")},
        headers=me,
    )
    assert answer.status_code == 201, answer.text
    assert len(stored_files(tmp_path)) == 1


# --- NUL in multipart form fields -------------------------------------------------------


def multipart(
    client: TestClient, url: str, fields: dict[str, Any], headers: dict[str, str]
) -> Response:
    """A form sent as multipart/form-data (with an empty file part), as any form may be."""
    return client.post(
        url,
        data=fields,
        files={"attachment": ("", b"", "application/octet-stream")},
        headers={**headers, **PAGE},
    )


def test_nul_in_multipart_form_fields_is_refused_naming_the_field(
    client: TestClient, engine: Engine, world: World
) -> None:
    manager = bearer(engine, "manager")
    before = audit_count(engine)
    held = multipart(
        client,
        f"/cases/{world.assigned_case}/actions",
        {"action": "hold", "hold_reason": "complaint", "reason": "complained\x00 twice"},
        manager,
    )
    refused_in_words(held, "reason", "NUL")
    visit_id, me = checked_in(client, engine, world)
    before = audit_count(engine)
    answer = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "statement": "lost\x00 my job", "idempotency_key": "nul-key-01"},
        files={"evidence": ("door.png", photo(), "image/png")},
        headers=me,
    )
    assert answer.status_code == 422 and "statement" in answer.text, answer.text
    boundary = "nul-in-a-file-name"  # by hand: httpx would escape the NUL as %00
    fields = [f'name="{k}"\r\n\r\n{v}' for k, v in FORM.items() if isinstance(v, str)]
    parts = [
        *fields,
        'name="reasons"\r\n\r\njob_loss',
        'name="idempotency_key"\r\n\r\nnul-key-02',
        'name="evidence"; filename="door\x00.png"\r\nContent-Type: image/png\r\n\r\n',
    ]
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; {p}\r\n" for p in parts)
    named = client.post(
        f"/visits/{visit_id}/submit",
        content=body.encode()[:-2] + photo() + f"\r\n--{boundary}--\r\n".encode(),
        headers={**me, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert named.status_code == 422 and "evidence" in named.text, named.text
    assert audit_count(engine) == before
    assert submitted(engine, visit_id) == ("checked_in", 0)
