"""Oversized requests are refused early: a 413 problem, decided from Content-Length or, for
a body without one, as soon as the streamed bytes pass the limit; never after the handler
has buffered the whole body. Evidence-sized uploads (20 MB) still pass the default."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from doorstep.app import create_app
from doorstep.config import Settings

LIMIT = 64 * 1024
CHUNK = 16 * 1024


def make_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    return create_app(Settings(var_dir=tmp_path / "var", **overrides))


def assert_413(response: Any) -> None:
    assert response.status_code == 413, response.text[:200]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "request_too_large" and body["status"] == 413
    assert {"type", "title", "detail"} <= set(body)


@pytest.mark.parametrize("path", ["/login", "/api/cases/1/actions", "/portal/login"])
def test_a_declared_length_above_the_limit_is_refused_at_once(tmp_path: Path, path: str) -> None:
    with TestClient(make_app(tmp_path, max_request_bytes=LIMIT)) as client:
        assert_413(client.post(path, content=b"x" * (LIMIT + 1)))
        small = client.post(path, content=b"x" * (LIMIT // 2))
        assert small.status_code != 413


def call_streamed(app: FastAPI, path: str, chunks: int) -> tuple[list[Message], int]:
    """Send a body of `chunks` x CHUNK bytes without Content-Length (as a chunked upload
    arrives); the answer's messages and how many chunks the app pulled."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        if pulled > chunks:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"a=" + b"x" * (CHUNK - 2), "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    # in a thread of its own: a browser test in this process may hold a running loop
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    worker.start()
    worker.join()
    return sent, pulled


def test_a_streamed_body_is_cut_off_as_it_passes_the_limit(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_request_bytes=LIMIT)
    sent, pulled = call_streamed(app, "/login", chunks=640)  # 10 MB offered
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["code"] == "request_too_large"
    assert pulled <= LIMIT // CHUNK + 1  # stopped reading right after the limit


def test_the_default_lets_a_20_mb_evidence_upload_through(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    assert app.state.doorstep.settings.max_request_bytes == 25 * 1024 * 1024
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (20 * 1024 * 1024 - 4)
    with TestClient(app) as client:
        response = client.post(
            "/visits/1/submit", files={"evidence": ("photo.jpg", photo, "image/jpeg")}
        )
    assert response.status_code != 413  # refused for other reasons (not signed in), not size
    assert response.status_code in (303, 401, 403)


def test_the_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_MAX_REQUEST_BYTES", "2048")
    with TestClient(create_app(Settings(var_dir=tmp_path / "var"))) as client:
        assert_413(client.post("/login", content=b"x" * 4096))
        assert client.post("/login", content=b"x" * 1024).status_code != 413


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "where"),
    [
        ("get", "/api/cases?city=%00", {}, "path or query"),
        ("get", "/api/cases/%00", {}, "path or query"),
        ("post", "/api/cases/1/actions", {"content": b'{"action": "a\\u0000"}'}, "body"),
        ("post", "/login", {"content": b"username=a%00&password=b"}, "body"),
    ],
)
def test_text_with_a_nul_is_refused_before_any_handler(
    tmp_path: Path, method: str, path: str, kwargs: dict[str, Any], where: str
) -> None:
    """PostgreSQL cannot store U+0000 (SQLite can): a 422 problem on every store, never a
    500 from the database."""
    content_type = (
        "application/json" if path.startswith("/api") else ("application/x-www-form-urlencoded")
    )
    with TestClient(make_app(tmp_path)) as client:
        response = getattr(client, method)(path, headers={"content-type": content_type}, **kwargs)
        assert response.status_code == 422, response.text[:200]
        body = response.json()
        assert body["code"] == "invalid_request" and body["detail"].startswith(where)
        # the same form without the NUL reaches its handler (which refuses the login)
        clean = client.post(
            "/login",
            content=b"username=a&password=b",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert "U+0000" not in clean.text
