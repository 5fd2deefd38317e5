"""Generated input against every page route (everything the app serves outside /api), on
SQLite and PostgreSQL, as every role: staff signed in with their cookie and sending their
CSRF token (so the handler, not the CSRF check, judges the input), a borrower signed in
to the portal, and nobody. GET routes get generated query parameters, POST routes
generated forms, sent urlencoded or as multipart; the visit's submission gets its
interview fields and evidence files (a photo, a PNG declaring 30000×30000 pixels, bytes
that are nothing). Values are drawn from hostile ones (numbers past int64, dates
before 1900 and after 2200, NUL, "²", huge text...) and from arbitrary text and integers.

No answer may be a 5xx, and none may be an exception instead of an answer (a dropped
connection). The routes are read from the app, so a new route is fuzzed without being
listed; `test_every_page_route_is_fuzzed` fails if one is skipped without a reason.

Bounded for CI (DOORSTEP_FUZZ_EXAMPLES, default 3 examples per route, derandomized so a
run is repeatable); a longer run: `DOORSTEP_FUZZ_EXAMPLES=100 pytest
tests/integration/test_page_fuzz.py`. The JSON API: tests/api/test_fuzz.py.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI, routing
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from doorstep.services.visits import LABELS
from tests.factories.visits import assigned_case_scheduled
from tests.factories.web import make_app, sign_in
from tests.factories.world import ANYTIME_RULES, build_world
from tests.integration.test_input_bounds import checked_in, png_declaring
from tests.integration.test_offers_web import borrower_of, portal_sign_in
from tests.integration.test_visits_web import photo

pytestmark = pytest.mark.db

DEFAULT_EXAMPLES = 3
EXAMPLES = int(os.environ.get("DOORSTEP_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
STAFF = ("admin", "manager", "verifier", "analyst", "auditor")
ROLES = (*STAFF, "borrower", "anonymous")
UNFUZZED = {
    "POST /logout": "ends the role's session for the rest of the run (no input to judge)",
    "POST /portal/sign-out": "ends the borrower's session (no input to judge)",
}
"""Routes not fuzzed, and why. Everything else the app serves outside /api is."""

HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    str(2**64),
    "9" * 40,
    "1e309",
    "-1e-400",
    "NaN",
    "inf",
    "²",
    "١٢",
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "0000-00-00",
    "2024-02-30",
    "0001-01",
    "9999-12",
    "2024-13",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2024-06-01T10:00:00",
    "24:00",
    "23:61",
    "x" * 3000,
    "\x00",
    "a\x00b",
    "%00",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "true",
    "yes",
]
"""Values that have broken or could break a parser, a bound or a driver."""

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
VALUE = st.one_of(st.sampled_from(HOSTILE), TEXT, st.integers().map(str))
ID_VALUES = ["0", "-1", str(2**31), str(2**63), str(2**64), "x", "1e3"]


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path | query | form
    many: bool = False
    text: bool = True  # text the handler parses itself (else FastAPI checks its type)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    params: tuple[Param, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _params(dependant: Any) -> Iterator[Param]:
    kinds = (("path", "path_params"), ("query", "query_params"), ("form", "body_params"))
    for where, attribute in kinds:
        for param in getattr(dependant, attribute):
            annotation = param.field_info.annotation
            many = typing.get_origin(annotation) is list or "list[" in str(annotation)
            yield Param(param.alias, where, many, annotation in (str, str | None))
    for sub in dependant.dependencies:
        yield from _params(sub)


SUBMISSION = tuple(Param(name, "form", name in ("reasons", "vulnerabilities")) for name in LABELS)
"""The visit's submission reads its multipart form itself: its fields are the interview's."""


def page_routes(app: FastAPI) -> list[Route]:
    """Every route the app serves outside /api and its documentation, with its parameters
    read from the route's declaration (and its dependencies')."""
    found = []
    for context in routing.iter_route_contexts(app.routes):
        path = context.path or ""
        dependant = getattr(context.original_route, "dependant", None)
        if dependant is None or path.startswith(("/api", "/docs", "/redoc", "/openapi")):
            continue
        params = tuple({p.name: p for p in _params(dependant)}.values())
        if path == "/visits/{visit_id}/submit":
            params = (*params, *SUBMISSION)
        for method in sorted((context.methods or set()) - {"HEAD"}):
            found.append(Route(method, path, params))
    return found


@dataclass
class Site:
    """The app over the world, a client per role (signed in), and the ids worth aiming at."""

    app: FastAPI
    clients: dict[str, TestClient]
    tokens: dict[str, str]
    ids: list[str]
    evidence: list[bytes]
    loan_id: str


@pytest.fixture
def site(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> Iterator[Site]:
    world = build_world(engine, tmp_path, keys, then=assigned_case_scheduled)
    app = make_app(engine, world, tmp_path, rules_file=ANYTIME_RULES, visit_hours="00:00-23:59")
    clients = {role: TestClient(app) for role in ROLES}
    for client in clients.values():
        client.__enter__()
    try:
        tokens = {role: sign_in(clients[role], role) for role in STAFF}
        visit_id, _ = checked_in(clients["verifier"], engine, world)
        _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
        tokens["borrower"] = portal_sign_in(clients["borrower"], app, loan_id, mobile)
        tokens["anonymous"] = ""
        ids = [str(world.assigned_case), str(world.other_case), str(visit_id), "1"]
        evidence = [photo(), png_declaring(30_000, 30_000), b"\xff\xd8\xff" + b"\0" * 20, b"MZ"]
        yield Site(app, clients, tokens, ID_VALUES + ids, evidence, loan_id)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def _value(param: Param, ids: list[str]) -> st.SearchStrategy[Any]:
    if param.where == "path":
        return st.one_of(st.sampled_from(ids), VALUE)
    if param.many:
        return st.lists(VALUE, max_size=3)
    return VALUE


def request_for(route: Route, site: Site) -> st.SearchStrategy[dict[str, Any]]:
    """A request to the route: who sends it, the path filled in, the query or form, and
    (for a form) whether it goes as multipart, with which evidence files."""
    values = st.fixed_dictionaries(
        # absent last: hypothesis begins with each strategy's first choice, and a route
        # given nothing may do its whole work (a month's PDF report), once is enough
        {p.name: st.one_of(_value(p, site.ids), st.none()) for p in route.params}
    )
    return st.fixed_dictionaries(
        {
            "role": st.sampled_from(ROLES),
            "values": values,
            "multipart": st.booleans(),
            "evidence": st.lists(st.sampled_from(site.evidence), max_size=2),
        }
    )


def send(route: Route, site: Site, drawn: dict[str, Any]) -> int:
    role = drawn["role"]
    values = {k: v for k, v in drawn["values"].items() if v is not None}
    where = {p.name: p.where for p in route.params}
    path = route.path
    for name, value in values.items():
        if where[name] == "path":
            path = path.replace("{" + name + "}", quote(str(value), safe="") or "0")
    path = re.sub(r"\{\w+\}", "1", path)  # a path parameter drawn as absent: a plain id
    fields = {k: v for k, v in values.items() if where[k] != "path"}
    headers = {"accept": "text/html", "accept-language": "zh-CN"}
    client = site.clients[role]
    if route.method == "GET":
        return client.get(path, params=fields, headers=headers, follow_redirects=False).status_code
    fields["csrf_token"] = site.tokens[role]
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    if drawn["multipart"] or route.path.endswith("/submit"):
        files = [("evidence", ("photo.png", data, "image/png")) for data in drawn["evidence"]]
        files = files or [("attachment", ("", b"", "application/octet-stream"))]
    response = client.request(
        route.method,
        path,
        data=fields,
        files=files or None,
        headers=headers,
        follow_redirects=False,
    )
    return response.status_code


def fuzz_route(route: Route, site: Site) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=request_for(route, site))
    def check(drawn: dict[str, Any]) -> None:
        status = send(route, site, drawn)  # an exception here: the app dropped the request
        assert status < 500, f"{route.key} as {drawn['role']}: {status} for {drawn}"

    check()


def test_every_page_route_is_fuzzed(site: Site) -> None:
    keys = {route.key for route in page_routes(site.app)}
    assert set(UNFUZZED) <= keys, "a route listed as not fuzzed is gone: drop it"
    assert len(keys - set(UNFUZZED)) >= 60, sorted(keys)  # 68 when written
    assert "POST /visits/{visit_id}/submit" in keys and "GET /dashboard/report.pdf" in keys


def test_generated_input_never_breaks_a_page(site: Site) -> None:
    for route in page_routes(site.app):
        if route.key not in UNFUZZED:
            fuzz_route(route, site)


def test_every_route_as_every_role(site: Site) -> None:
    """Each route once as each role, every parameter given a hostile value (turning
    through HOSTILE, so neighbouring parameters and roles get different ones): the
    refusals of the wrong role, or of none signed in, are answers too."""
    turn = 0
    for route in page_routes(site.app):
        if route.key in UNFUZZED:
            continue
        for role in ROLES:
            values: dict[str, Any] = {}
            for param in route.params:
                value = HOSTILE[turn % len(HOSTILE)]
                values[param.name] = [value] if param.many else value
                turn += 1
            drawn = {"role": role, "values": values, "multipart": turn % 2 == 0}
            drawn["evidence"] = site.evidence[turn % 2 :: 2]
            status = send(route, site, drawn)
            assert status < 500, f"{route.key} as {role}: {status} for {values}"
            turn += 1


SWEPT = ["9" * 40, "²", "NaN", "0001-01-01", "9999-12-31", "9999-12", "a\x00b"]
"""The hostile values each text parameter gets on its own: past int64, a digit `int()`
refuses, no number, days and a month outside the calendar, NUL. A longer run
(DOORSTEP_FUZZ_EXAMPLES above the default) sweeps every value of HOSTILE."""
BASELINE = {
    "city": "北京市",
    "day": "2030-01-15",
    "at": "10:00",
    "start": "10:00",
    "end": "11:00",
    "lat": "39.9",
    "lng": "116.4",
    "username": "nobody",
    "password": "wrong password",
    "field": "id_number",
    "reason": "fuzzing the form",
}
"""Plausible values for a swept parameter's siblings, so that the handler, not a missing
field, answers (the loan id is the world's, added by `site`)."""


def _role_for(route: Route) -> str:
    """Who reaches the route's handler: the borrower on the portal, the verifier on the
    visit's pages, the administrator elsewhere."""
    if route.path.startswith("/portal"):
        return "borrower"
    if route.path.startswith(("/visits", "/day")) or route.path.endswith("/check-in"):
        return "verifier"
    return "admin"


def _swept(route: Route) -> list[Param]:
    """The text parameters a handler parses itself (FastAPI checks the typed ones)."""
    return [p for p in route.params if p.text and not p.many and p.where != "path"]


def test_each_hostile_value_in_each_parameter(site: Site) -> None:
    """Each text parameter of each route on its own, its siblings plausible, gets each
    hostile value (and NUL, in a multipart form or the query), as the role whose handler
    parses it: the generated examples might not draw them all."""
    baseline = {**BASELINE, "loan_id": site.loan_id}
    for route in page_routes(site.app):
        if route.key in UNFUZZED:
            continue
        names = {p.name for p in route.params}
        for param in _swept(route):
            siblings = {k: v for k, v in baseline.items() if k in names and k != param.name}
            for value in SWEPT if EXAMPLES <= DEFAULT_EXAMPLES else HOSTILE:
                drawn = {
                    "role": _role_for(route),
                    "values": {**siblings, param.name: value},
                    "multipart": "\x00" in value,
                    "evidence": [],
                }
                status = send(route, site, drawn)
                assert status < 500, f"{route.key} {param.name}={value!r}: {status}"
