"""Every API route × every role × the three kinds of case in the small world.

The table below is the access contract (domain/access.py GRANTS plus the row-level rules
in the services): 401 anonymous, 403 a role without the permission, 404 a row the actor
may not see (a verifier on a case not live-assigned to their team, a manager outside
their region), 409/422 an action that is illegal where it is allowed at all. Routes are
enumerated from the app, so a new /api route fails `test_every_api_route_is_in_the_table`
until a row for it is added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.store.db import transaction
from doorstep.store.models import Assignment, Case, ContactPoint
from tests.factories.people import bearer
from tests.factories.world import World

pytestmark = pytest.mark.db

ROLES = ("admin", "manager", "verifier", "analyst", "auditor", "anonymous")
CASES = ("assigned", "other", "shanghai")
"""assigned: Beijing, live-assigned to the verifier's team; other: Beijing, unassigned;
shanghai: outside the manager's region, unassigned."""

Expect = int | tuple[int, int, int]
"""One status for every case, or one per case in CASES order."""


@dataclass(frozen=True)
class Probe:
    route: str  # "METHOD /path" as the app declares it
    what: str
    admin: Expect
    manager: Expect
    verifier: Expect
    analyst: Expect
    auditor: Expect
    anonymous: Expect = 401
    body: Callable[[Ctx, int], dict[str, Any]] | None = None
    point: str = "own"  # attempts: "own" phone of the case, or "foreign" (another customer's)
    undo: Callable[[Ctx, int], None] | None = None  # restore the case after a success
    per_body_case: bool = False  # the case is named in the body, not the path

    @property
    def per_case(self) -> bool:
        return "{case_id}" in self.route or self.per_body_case

    def expected(self, role: str, kind: str) -> int:
        want: Expect = getattr(self, role)
        return want if isinstance(want, int) else want[CASES.index(kind)]


@dataclass
class Ctx:
    client: TestClient
    headers: dict[str, dict[str, str]]  # role -> auth headers
    cases: dict[str, int]  # kind -> case id
    phones: dict[int, int]  # case id -> a phone contact point of its customer
    versions: Callable[[int], int]
    privacy_request: int = 0  # a received privacy request


def release(ctx: Ctx, case_id: int) -> None:
    response = ctx.client.post(
        f"/api/cases/{case_id}/actions",
        json={"action": "release", "reason": "matrix: undo the hold"},
        headers=ctx.headers["admin"],
    )
    assert response.status_code == 200, response.text


def hold(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"action": "hold", "hold_reason": "dispute", "reason": "borrower disputes the debt"}


def close(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"action": "close", "reason": "not visited yet"}  # only a visited case closes


def stale(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {**hold(ctx, case_id), "version": ctx.versions(case_id) - 1}


def no_answer(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"channel": "call", "result": "no_answer", "note": "rang out"}


def moved(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"channel": "call", "result": "moved"}  # `moved` is for addresses only


def may_visit(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"case_id": case_id, "action": "visit"}


def id_number(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"field": "id_number", "purpose": "visit_preparation"}


def point_without_id(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"field": "contact_point", "purpose": "contact_verification"}


def ids_of(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"case_ids": [case_id], "purpose": "legal"}


def approve(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"approve": True}


def dispute(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"kind": "already_paid", "note": "paid at the branch"}


def answer(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"outcome": "upheld", "note": "payment found"}


def why(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"reason": "the borrower asked for it"}


def resolve_disputes(ctx: Ctx, case_id: int) -> None:
    held = ctx.client.get(f"/api/cases/{case_id}/holds", headers=ctx.headers["admin"]).json()
    for hold in held:
        path = f"/api/disputes/{hold['id']}/resolve"
        response = ctx.client.post(path, json=answer(ctx, case_id), headers=ctx.headers["admin"])
        assert response.status_code == 200, response.text


def pboc_example(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"amount": "100000", "fee": "1000", "payments": ["12x8833.30"]}


READ = dict(admin=200, manager=(200, 200, 404), verifier=(200, 404, 404), analyst=200, auditor=200)
CHANGE = dict(admin=200, manager=(200, 200, 404), verifier=403, analyst=403, auditor=403)
FIELD = dict(admin=200, manager=(200, 200, 404), verifier=(200, 404, 404), analyst=403, auditor=403)


def illegal(rules: dict[str, Expect], status: int) -> dict[str, Expect]:
    """The same access rules, with `status` where the action was allowed."""

    def swap(want: Expect) -> Expect:
        if isinstance(want, int):
            return status if want == 200 else want
        return tuple(status if w == 200 else w for w in want)  # type: ignore[return-value]

    return {role: swap(want) for role, want in rules.items()}


def third_party_access(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {
        "subject": "third_party",
        "kind": "access",
        "received_via": "phone",
        "phone": "13900002222",
    }


def start_unverified(ctx: Ctx, case_id: int) -> dict[str, Any]:
    return {"action": "start"}  # a received request is verified first


PRIVACY = dict(admin=200, manager=403, verifier=403, analyst=403, auditor=200)
ACTIONS = "POST /api/cases/{case_id}/actions"
ATTEMPTS = "POST /api/cases/{case_id}/contact-points/{point_id}/attempts"
REVEAL = "POST /api/cases/{case_id}/reveal"
BULK = "POST /api/reveal-requests"
DECIDERS = dict(admin=200, manager=200, verifier=403, analyst=403, auditor=200)
UNKNOWN_HOLD = 987_654  # no customer hold has this id in the small world
NO_HOLD = dict(admin=404, manager=404, verifier=403, analyst=403, auditor=403)
NO_REQUEST = dict(admin=404, manager=404, verifier=404, analyst=404, auditor=404)

# fmt: off
MATRIX = [
    #     route                    what                admin manager verifier analyst auditor
    Probe("GET /api/me", "who am I", 200, 200, 200, 200, 200),
    Probe("GET /api/audit/verify", "verify the chain", 200, 403, 403, 403, 200),
    Probe("GET /api/feedback", "lender feedback feed", 200, 403, 403, 403, 200),
    Probe("GET /api/cases", "list", 200, 200, 200, 200, 200),
    Probe("POST /api/offers/quote", "quote cash flows", 200, 200, 403, 403, 403,
          body=pboc_example),
    Probe("GET /api/cases/{case_id}", "detail", **READ),
    Probe(ACTIONS, "hold (released after)", **CHANGE, body=hold, undo=release),
    Probe(ACTIONS, "close an unvisited case", **illegal(CHANGE, 409), body=close),
    Probe(ACTIONS, "stale version", **illegal(CHANGE, 409), body=stale),
    Probe(ATTEMPTS, "no answer on the phone", **FIELD, body=no_answer),
    Probe(ATTEMPTS, "moved, on a phone", **illegal(FIELD, 422), body=moved),
    Probe(ATTEMPTS, "another customer's phone", **illegal(FIELD, 404), body=no_answer,
          point="foreign"),
    Probe(REVEAL, "national ID", **FIELD, body=id_number),
    Probe("POST /api/conduct/check", "may I visit now?", **FIELD, body=may_visit,
          per_body_case=True),
    Probe(REVEAL, "contact point without its id", **illegal(FIELD, 422), body=point_without_id),
    Probe("GET /api/cases/{case_id}/holds", "the customer's open holds", **READ),
    Probe("POST /api/cases/{case_id}/disputes", "open a dispute (answered after)",
          **illegal(CHANGE, 201), body=dispute, undo=resolve_disputes),
    Probe("POST /api/disputes/{hold_id}/resolve", "answer an unknown dispute", **NO_HOLD,
          body=answer),
    Probe("POST /api/cases/{case_id}/holds/{hold_id}/lift", "lift an unknown hold",
          **NO_HOLD, body=why),
    Probe("POST /api/cases/{case_id}/visit-interval-override", "override, not visited lately",
          **illegal(CHANGE, 422), body=why),
    Probe("GET /api/privacy/requests", "privacy requests", **PRIVACY),
    Probe("GET /api/privacy/requests/{request_id}", "one privacy request", **PRIVACY),
    Probe("POST /api/privacy/requests", "receive a third party's request",
          **illegal(PRIVACY, 201), body=third_party_access),
    Probe("POST /api/privacy/requests/{request_id}/actions", "start before verifying",
          **illegal(PRIVACY, 409), body=start_unverified),
    # a bulk reveal names its cases in the body: one case, so revealed at once
    Probe(BULK, "national ID of one case", **FIELD, body=ids_of, per_body_case=True),
    Probe("GET /api/reveal-requests", "requests to decide", **DECIDERS),
    Probe("POST /api/reveal-requests/{request_id}/decision", "decide an unknown request",
          **{**NO_REQUEST, "verifier": 403, "analyst": 403}, body=approve),
    Probe("POST /api/reveal-requests/{request_id}/reveal", "use an unknown request",
          **NO_REQUEST),
]
# fmt: on

VISIBLE = {
    "admin": {"assigned", "other", "shanghai"},
    "manager": {"assigned", "other"},
    "verifier": {"assigned"},
    "analyst": {"assigned", "other", "shanghai"},
    "auditor": {"assigned", "other", "shanghai"},
}
"""Which of the three cases each role finds in GET /api/cases."""


def api_routes(app: FastAPI) -> set[str]:
    """Every route under /api as "METHOD /path". Recent FastAPI keeps included routers
    nested in app.routes; `iter_route_contexts` walks them when it exists."""
    flatten = getattr(routing, "iter_route_contexts", lambda routes: routes)
    return {
        f"{method} {route.path}"
        for route in flatten(app.routes)
        if (route.path or "").startswith("/api")
        for method in route.methods or ()
    }


def test_every_api_route_is_in_the_table(engine: Engine, tmp_path: Any) -> None:
    app = create_app(Settings(var_dir=tmp_path / "var"), engine=engine, migrate_schema=False)
    declared, tabled = api_routes(app), {probe.route for probe in MATRIX}
    assert declared - tabled == set(), "API routes without a row in MATRIX"
    assert tabled - declared == set(), "MATRIX rows for routes the app does not have"


def test_role_matrix(world: World, app: FastAPI, engine: Engine) -> None:
    kinds = {
        "assigned": world.assigned_case,
        "other": world.other_case,
        "shanghai": world.shanghai_case,
    }
    with transaction(engine) as session:
        phones = {
            case_id: session.scalars(
                select(ContactPoint.id)
                .join(Case, Case.customer_id == ContactPoint.customer_id)
                .where(Case.id == case_id, ContactPoint.channel == "phone")
            ).first()
            for case_id in world.case_ids
        }

    def version(case_id: int) -> int:
        with transaction(engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            return case.version

    headers = {role: bearer(engine, role) for role in ROLES if role != "anonymous"}
    client = TestClient(app, raise_server_exceptions=False)
    ctx = Ctx(client, {**headers, "anonymous": {}}, kinds, phones, version)
    asked = client.post(
        "/api/privacy/requests", json=third_party_access(ctx, 0), headers=headers["auditor"]
    )
    assert asked.status_code == 201, asked.text
    ctx.privacy_request = asked.json()["id"]
    foreign = {
        case_id: phones[kinds["other" if kind != "other" else "assigned"]]
        for kind, case_id in kinds.items()
    }

    wrong: list[str] = []
    for probe in MATRIX:
        method, template = probe.route.split(" ", 1)
        for role in ROLES:
            for kind in CASES if probe.per_case else ("-",):
                case_id = kinds.get(kind, 0)
                point_id = (phones if probe.point == "own" else foreign).get(case_id)
                path = template.format(
                    case_id=case_id,
                    point_id=point_id,
                    request_id=ctx.privacy_request,
                    hold_id=UNKNOWN_HOLD,
                )
                body = probe.body(ctx, case_id) if probe.body else None
                response = client.request(method, path, json=body, headers=ctx.headers[role])
                want = probe.expected(role, kind)
                got = response.status_code
                if got != want:
                    wrong.append(
                        f"{role:9} {kind:9} {probe.route} [{probe.what}]: "
                        f"got {got}, want {want}: {response.text[:120]}"
                    )
                elif got >= 400 and not response.headers["content-type"].startswith(
                    "application/problem+json"
                ):
                    wrong.append(
                        f"{role} {kind} {probe.route} [{probe.what}]: {got} is not problem+json"
                    )
                if got < 300 and probe.undo:
                    probe.undo(ctx, case_id)
                if got == 200 and probe.route == "GET /api/cases":
                    seen = {item["id"] for item in response.json()["items"]}
                    found = {k for k, listed in kinds.items() if listed in seen}
                    if found != VISIBLE[role]:
                        wrong.append(f"{role} lists {sorted(found)}, want {sorted(VISIBLE[role])}")
    assert not wrong, "\n" + "\n".join(wrong)


def test_a_verifier_sees_a_case_only_while_its_assignment_is_live(
    world: World, client: TestClient, engine: Engine
) -> None:
    verifier, now = bearer(engine, "verifier"), datetime.now(UTC)
    detail = f"/api/cases/{world.assigned_case}"
    windows = {
        "live": ({"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}, 200),
        "ended": ({"ends_at": now - timedelta(minutes=1)}, 404),
        "not yet": (
            {"starts_at": now + timedelta(hours=1), "ends_at": now + timedelta(hours=9)},
            404,
        ),
        "revoked": (
            {
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(hours=1),
                "revoked_at": now - timedelta(minutes=1),
            },
            404,
        ),
    }
    for name, (values, status) in windows.items():
        with transaction(engine) as session:
            session.execute(update(Assignment).values(**values))
        assert client.get(detail, headers=verifier).status_code == status, name
        listed = {c["id"] for c in client.get("/api/cases", headers=verifier).json()["items"]}
        assert listed == ({world.assigned_case} if status == 200 else set()), name
        reveal = client.post(
            f"{detail}/reveal",
            headers=verifier,
            json={"field": "id_number", "purpose": "visit_preparation"},
        )
        assert reveal.status_code == status, name
