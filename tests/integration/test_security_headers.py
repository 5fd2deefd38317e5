"""Headers on every answer: a strict Content-Security-Policy, no framing, no sniffing, no
referrer to other sites, and `no-store` on everything but the static files (pages, htmx
fragments, API answers, downloads and refusals may all carry revealed personal data).
The templates hold no inline script, event handler or style for the policy to refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from doorstep.http.headers import content_security_policy, tile_source
from doorstep.web import i18n
from tests.factories.web import make_app, sign_in
from tests.factories.world import build_world

TEMPLATES = Path(i18n.__file__).parent / "templates"
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
}


def policy(header: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in header.split(";") if p.strip())
    return {name: value for name, value in parts}


def assert_strict(headers: object, *, store: bool = False) -> None:
    found = policy(headers["content-security-policy"])  # type: ignore[index]
    assert {k: found.get(k) for k in STRICT} == STRICT
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["referrer-policy"] == "same-origin"  # type: ignore[index]
    if not store:
        assert headers["cache-control"] == "no-store"  # type: ignore[index]


@pytest.mark.db
def test_every_kind_of_answer_carries_the_headers(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    app = make_app(engine, world, tmp_path, max_request_bytes=1024)
    with TestClient(app) as client:
        assert_strict(client.get("/login").headers)
        token = sign_in(client, "manager")
        headers = {"X-CSRF-Token": token}
        answers = [
            client.get("/cases"),
            client.get("/cases", headers={"HX-Request": "true"}),  # an htmx fragment
            client.get(f"/cases/{world.assigned_case}"),
            client.post(
                f"/cases/{world.assigned_case}/reveal",
                data={"field": "id_number", "purpose": "legal"},
                headers={**headers, "HX-Request": "true"},
            ),
            client.post(
                f"/api/cases/{world.assigned_case}/reveal",
                json={"field": "id_number", "purpose": "legal"},
                headers=headers,
            ),
            client.get(f"/api/cases/{world.assigned_case}"),
            client.get(f"/cases/{world.assigned_case}/dossier.pdf"),
            client.get("/dashboard/report.csv"),
            client.get("/api/cases/999999"),  # a refusal
            client.post("/api/cases/1/reveal", content=b"x" * 2048, headers=headers),  # 413
        ]
        assert [a.status_code for a in answers] == [200] * 8 + [404, 413]
        for answer in answers:
            assert_strict(answer.headers)
        static = client.get("/static/htmx.min.js")
        assert static.status_code == 200 and "no-store" not in static.headers.get(
            "cache-control", ""
        )
        assert_strict(static.headers, store=True)


def test_map_tiles_are_the_only_other_images_allowed() -> None:
    assert (
        tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    )
    assert tile_source("") is None and tile_source("javascript:alert(1)") is None
    tiles = policy(content_security_policy("https://tiles.example/{z}/{x}/{y}.png"))
    assert tiles["img-src"] == "'self' data: https://tiles.example"
    assert policy(content_security_policy())["img-src"] == "'self' data:"


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"),
    "event handler attribute": re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
}


def test_no_template_holds_what_the_policy_refuses() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
