"""Schemathesis against the app's own OpenAPI spec: every /api operation, as every role,
with data that fits the schema and data that does not. No answer may be a 5xx, and every
4xx must be an RFC 9457 problem-details body.

Bounded for CI (DOORSTEP_FUZZ_EXAMPLES, default 4 examples per operation, mode and role);
a longer run: `DOORSTEP_FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz.py`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import Engine

from tests.factories.people import bearer
from tests.factories.world import World

pytestmark = pytest.mark.db

ROLES = ("admin", "manager", "verifier", "analyst", "auditor", "anonymous")
EXAMPLES = int(os.environ.get("DOORSTEP_FUZZ_EXAMPLES", "4"))
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def assert_problem_or_success(status: int, content_type: str, content: bytes, what: str) -> None:
    assert status < 500, f"{what}: {status} {content[:300]!r}"
    if 400 <= status < 500:
        assert content_type.startswith("application/problem+json"), f"{what}: {content_type}"
        body = json.loads(content)
        missing = PROBLEM_FIELDS - set(body)
        assert not missing, f"{what}: problem body lacks {missing}: {body}"
        assert body["status"] == status, f"{what}: {body}"


def fuzz(strategy: st.SearchStrategy[Any], headers: dict[str, str], who: str) -> None:
    """Call the app with up to EXAMPLES cases drawn from `strategy`."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        content_type = response.headers.get("content-type", [""])[0]
        what = f"{who}: {case.method} {case.formatted_path}"
        assert_problem_or_success(response.status_code, content_type, response.content, what)

    check()


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_every_role(
    role: str, app: FastAPI, engine: Engine, world: World
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {} if role == "anonymous" else bearer(engine, role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/cases", "/api/cases/{case_id}", "/api/me"}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies = [operation.as_strategy(generation_mode=mode)]
            if "{case_id}" in operation.path and mode is GenerationMode.POSITIVE:
                # a case the actor may see, so that the body is judged, not just the id
                fixed = {"case_id": world.assigned_case}
                strategies.append(
                    operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                )

            try:
                fuzz(st.one_of(strategies), headers, f"{role} ({mode.value})")
            except Unsatisfiable:
                # nothing in the operation can be wrong (GET /api/me: no parameters)
                assert mode is GenerationMode.NEGATIVE, operation.path


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/nothing-here", 404),
        ("DELETE", "/api/me", 405),
        ("PUT", "/api/cases", 405),
        ("GET", "/api/cases/not-a-number", 422),
        ("POST", "/api/cases/1/actions", 422),  # no body at all
    ],
)
def test_framework_refusals_are_problems(
    method: str, path: str, status: int, client: TestClient, engine: Engine
) -> None:
    response = client.request(method, path, headers=bearer(engine, "admin"))
    assert response.status_code == status
    assert_problem_or_success(
        status, response.headers["content-type"], response.content, f"{method} {path}"
    )


def test_malformed_json_is_a_problem(client: TestClient, engine: Engine, world: World) -> None:
    headers = {**bearer(engine, "manager"), "content-type": "application/json"}
    response = client.post(
        f"/api/cases/{world.assigned_case}/actions", content=b"{not json", headers=headers
    )
    assert response.status_code == 422
    assert_problem_or_success(422, response.headers["content-type"], response.content, "bad json")
