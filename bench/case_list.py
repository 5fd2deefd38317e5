"""Benchmark: the case list as a manager sees it, over 100,000 cases, through HTTP.

    python bench/case_list.py [--cases 100000] [--requests 50] [--workdir DIR] [--keep]
                              [--json FILE]

1. build   a SQLite database with N cases (bulk inserts straight into `customers` and
           `cases`: realistic states, DPD and buckets, cities and districts, priorities,
           holds and skip-trace flags) and one regional manager (4 of 8 cities, about
           60% of the cases);
2. serve   the real app (`create_app`) under uvicorn on a free 127.0.0.1 port, in a
           background thread; sign in through /login like a browser;
3. measure each query `--requests` times (after 3 warm-up requests) with httpx over one
           keep-alive connection: the full stack (session cookie, actor, CSRF check,
           filters, count, page, template);
4. baseline in the same run, through the same stack: a route added to this app instance
           only (`/bench/baseline`) that authenticates the same way and runs a bare
           `SELECT id FROM cases LIMIT 50` in the request's session. The ratio column is
           median / baseline median: what the case list costs above the fixed price of
           any signed-in page.

Then, per query, the two SQL statements of the list (count and page) timed alone on the
same engine, to show where the time goes. Target: median < 300 ms for every query.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from doorstep.http.context import CurrentActor, DbSession  # resolved by FastAPI at run time

TARGET_MS = 300.0
AS_OF = date(2025, 6, 30)
PASSWORD = "bench password 2025"
CITIES: dict[str, tuple[float, tuple[str, ...]]] = {  # city: (share of cases, districts)
    "北京市": (0.17, ("朝阳区", "海淀区", "丰台区", "东城区", "西城区", "通州区")),
    "上海市": (0.16, ("浦东新区", "闵行区", "徐汇区", "宝山区", "静安区", "杨浦区")),
    "广州市": (0.14, ("天河区", "白云区", "海珠区", "番禺区", "越秀区")),
    "深圳市": (0.13, ("南山区", "福田区", "宝安区", "龙岗区", "罗湖区")),
    "杭州市": (0.11, ("西湖区", "上城区", "拱墅区", "余杭区", "滨江区")),
    "成都市": (0.11, ("武侯区", "锦江区", "青羊区", "金牛区", "成华区")),
    "武汉市": (0.10, ("江汉区", "武昌区", "洪山区", "江岸区")),
    "西安市": (0.06, ("雁塔区", "碑林区", "未央区", "长安区")),
}
MANAGER_REGIONS = ["北京市", "上海市", "广州市", "深圳市"]
NO_ADDRESS_SHARE = 0.02  # no usable address: no city, skip-trace
STATES = {  # state: share
    "new": 0.05, "confirming": 0.14, "ready": 0.24, "scheduled": 0.10, "visiting": 0.02,
    "visited": 0.08, "closed": 0.22, "cancelled": 0.15,
}  # fmt: skip
HOLD_SHARE = 0.03
HOLD_REASONS = ("complaint", "dispute", "vulnerability", "hardship_reported")
PROPOSED_INDEXES = (
    # the list's order, with the region and DPD columns, so that paging walks this index
    # in order and tests the filters on it without reading the table (page 500 included)
    "CREATE INDEX ix_cases_list_order ON cases (priority DESC, id, city, max_dpd)",
    # region + DPD range: the count is read from this index alone
    "CREATE INDEX ix_cases_city_max_dpd ON cases (city, max_dpd)",
)
"""Not in the migrations (yet): `--compare` measures the list with and without them."""
QUERIES: list[tuple[str, str, bool]] = [  # (name, query string, as an htmx request)
    ("first page", "", False),
    ("page 500", "page=500", False),
    ("city + bucket", "city=上海市&bucket=M2", False),
    ("DPD 31-90", "min_dpd=31&max_dpd=90", False),
    ("state + amount, htmx", "state=ready&min_amount=5000", True),
    ("DPD 31-90, page 100", "min_dpd=31&max_dpd=90&page=100", False),
]


# --- build --------------------------------------------------------------------------------


def build(db: Path, n: int, seed: int = 20250630) -> dict[str, Any]:
    """The database with `n` cases; returns what was made and how long it took."""
    import numpy as np
    from sqlalchemy import insert

    from doorstep.domain.access import SYSTEM, Role
    from doorstep.domain.audit import Keyring
    from doorstep.domain.delinquency import DEFAULT_BUCKETS
    from doorstep.integrations.crypto import new_lookup_key
    from doorstep.services.conduct import audit
    from doorstep.services.people import users
    from doorstep.store import migrate
    from doorstep.store.db import make_engine, transaction
    from doorstep.store.models import Case, Customer

    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    audit.use_keys(engine, Keyring.of(new_lookup_key()))  # throwaway, as the data keys are
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)

    # DPD: mostly early buckets, a long tail to M7+ (what a lender's overdue book looks like)
    dpd = np.where(
        rng.random(n) < 0.55,
        rng.integers(1, 61, n),
        np.minimum(61 + rng.exponential(70, n).astype(int), 720),
    )
    buckets = {d: DEFAULT_BUCKETS.bucket_of(d) for d in range(1, 721)}
    overdue = (rng.lognormal(8.2, 0.9, n) * 100).astype(np.int64) + dpd * 900  # fen
    names = list(CITIES)
    shares = np.array([CITIES[c][0] for c in names])
    city_of = rng.choice(len(names), n, p=shares / shares.sum())
    district_pick = rng.integers(0, 1_000_000, n)
    no_address = rng.random(n) < NO_ADDRESS_SHARE
    state_names = list(STATES)
    state_p = np.array(list(STATES.values()))
    state_of = rng.choice(len(state_names), n, p=state_p / state_p.sum())
    held = rng.random(n) < HOLD_SHARE
    hold_pick = rng.integers(0, len(HOLD_REASONS), n)
    # priority: expected recovery (fen) the selection policy would give, as in select_cases
    priority = (overdue * (0.25 + 0.6 * rng.random(n)) / (1 + dpd / 120)).astype(np.int64)

    customers, cases = [], []
    for i in range(n):
        cid = f"B{i + 1:07d}"
        customers.append({
            "customer_id": cid, "name": f"客户{i + 1}", "id_number": "bench-not-encrypted",
            "id_number_hash": f"{i:064x}", "id_number_masked": "110***********1234",
            "gender": "MF"[i % 2], "birth_year": 1970 + i % 35,
            "employer": None, "created_at": now, "updated_at": now,
        })  # fmt: skip
        state = state_names[state_of[i]]
        city = None if no_address[i] else names[city_of[i]]
        districts = CITIES[names[city_of[i]]][1]
        district = None if city is None else districts[district_pick[i] % len(districts)]
        open_case = state not in ("closed", "cancelled")
        cases.append({
            "customer_id": cid, "state": state,
            "hold_reason": HOLD_REASONS[hold_pick[i]] if held[i] and open_case else None,
            "cancel_reason": "cured" if state == "cancelled" else None,
            "opened_on": AS_OF - timedelta(days=int(dpd[i] % 60)), "as_of": AS_OF,
            "max_dpd": int(dpd[i]), "bucket": buckets[int(dpd[i])],
            "overdue_amount": int(overdue[i]), "priority": int(priority[i]),
            "city": city, "district": district,
            "skip_trace": bool(no_address[i]),
            "visited_on": AS_OF - timedelta(days=3) if state in ("visited", "closed") else None,
            "owner_id": None, "version": 1, "created_at": now, "updated_at": now,
        })  # fmt: skip
    with engine.begin() as connection:
        for chunk in range(0, n, 20_000):
            connection.execute(insert(Customer), customers[chunk : chunk + 20_000])
        for chunk in range(0, n, 20_000):
            connection.execute(insert(Case), cases[chunk : chunk + 20_000])
        connection.exec_driver_sql("ANALYZE")
    with transaction(engine) as session:
        users.add_user(session, SYSTEM, users.NewUser(
            "manager", "Bench Manager", Role.MANAGER, PASSWORD, MANAGER_REGIONS, None),
            hasher=users.standard_hasher())  # fmt: skip
    engine.dispose()
    visible = sum(1 for c in cases if c["city"] in MANAGER_REGIONS)
    return {"cases": n, "visible_to_manager": visible, "seconds": time.perf_counter() - started}


# --- serve and measure --------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    query: str
    median_ms: float
    p95_ms: float
    total: int | None = None
    sql_count_ms: float | None = None
    sql_page_ms: float | None = None


def _free_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _serve(workdir: str, db: str, ports: Any) -> None:
    """The child process: the app under uvicorn; tells the parent its port."""
    import uvicorn
    from sqlalchemy import text

    from doorstep.app import create_app
    from doorstep.config import Settings
    from doorstep.store.db import make_engine

    app = create_app(
        Settings(var_dir=Path(workdir)), engine=make_engine(f"sqlite:///{db}"), migrate_schema=False
    )

    def baseline(request: Request, actor: CurrentActor, session: DbSession) -> HTMLResponse:
        ids = session.execute(text("SELECT id FROM cases LIMIT 50")).scalars().all()
        return HTMLResponse(f"<p>{actor.username}: {len(ids)}</p>")

    app.add_api_route("/bench/baseline", baseline, methods=["GET"])
    sock = _free_socket()
    ports.put(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


def serve(workdir: Path, db: Path) -> tuple[Any, str]:
    """The app in its own process (as in production: the client's work and the server's
    do not share one interpreter lock)."""
    import multiprocessing as mp

    context = mp.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_serve, args=(str(workdir), str(db), ports), daemon=True)
    process.start()
    port = ports.get(timeout=60)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start") from None
            time.sleep(0.05)
    return process, url


def sign_in(client: Any) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    response = client.post(
        "/login",
        data={
            "username": "manager",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "/cases",
        },
    )
    assert response.status_code == 303, f"sign-in failed: {response.status_code}"


def timed(client: Any, path: str, requests: int, htmx: bool = False) -> tuple[list[float], str]:
    headers = {"HX-Request": "true"} if htmx else {}
    body = ""
    for _ in range(3):  # warm-up: connection, template compilation, SQLite page cache
        client.get(path, headers=headers)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        body = response.text
    return samples, body


def sql_breakdown(engine: Any, query: str, reps: int = 20) -> tuple[float, float]:
    """Median ms of the list's count statement and of its page statement, alone."""
    from urllib.parse import parse_qs

    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from doorstep.domain.access import Actor, Role
    from doorstep.domain.money import parse_yuan
    from doorstep.store.models import Case
    from doorstep.store.repositories.cases import CaseFilter, filtered, visible_to

    params = {k: v[0] for k, v in parse_qs(query).items()}
    f = CaseFilter(
        states=(params["state"],) if "state" in params else (),
        buckets=(params["bucket"],) if "bucket" in params else (),
        city=params.get("city"), district=params.get("district"),
        min_dpd=int(params["min_dpd"]) if "min_dpd" in params else None,
        max_dpd=int(params["max_dpd"]) if "max_dpd" in params else None,
        min_amount=parse_yuan(params["min_amount"]) if "min_amount" in params else None,
    )  # fmt: skip
    page = int(params.get("page", 1))
    actor = Actor("manager", Role.MANAGER, 1, frozenset(MANAGER_REGIONS))
    base = filtered(visible_to(select(Case), actor), f)
    count = select(func.count()).select_from(base.subquery())
    rows = base.order_by(Case.priority.desc(), Case.id).offset((page - 1) * 50).limit(50)
    counts, pages = [], []
    with Session(engine) as session:
        for _ in range(reps):
            started = time.perf_counter()
            session.scalar(count)
            counts.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            session.scalars(rows).all()
            pages.append((time.perf_counter() - started) * 1000)
            session.expunge_all()
    return statistics.median(counts), statistics.median(pages)


def measure(workdir: Path, db: Path, requests: int) -> tuple[Figures, list[Figures], float]:
    import httpx
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from doorstep.store.db import make_engine

    process, url = serve(workdir, db)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            sign_in(client)
            samples, _ = timed(client, "/bench/baseline", requests)
            base = Figures(
                "baseline: bare SELECT",
                "/bench/baseline",
                statistics.median(samples),
                _p95(samples),
            )
            figures = []
            for name, query, htmx in QUERIES:
                samples, body = timed(client, f"/cases?{query}", requests, htmx)
                shown = re.search(r'data-total="(\d+)"', body)
                counts = sql_breakdown(engine, query)
                figures.append(
                    Figures(
                        name,
                        query,
                        statistics.median(samples),
                        _p95(samples),
                        int(shown.group(1)) if shown else None,
                        *counts,
                    )
                )
        with Session(engine) as session:  # the bare query alone, no HTTP: the floor
            raw = []
            for _ in range(requests):
                started = time.perf_counter()
                session.execute(text("SELECT id FROM cases LIMIT 50")).all()
                raw.append((time.perf_counter() - started) * 1000)
        return base, figures, statistics.median(raw)
    finally:
        process.terminate()
        process.join(10)
        engine.dispose()


def add_proposed_indexes(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as connection:
        for ddl in PROPOSED_INDEXES:
            connection.execute(ddl)
        connection.execute("ANALYZE")


def report(
    built: dict[str, Any],
    base: Figures,
    figures: list[Figures],
    raw_ms: float,
    requests: int,
    title: str,
) -> bool:
    import os

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n== {title}\n{built['cases']:,} cases, {built['visible_to_manager']:,} in the "
        f"manager's regions ({', '.join(MANAGER_REGIONS)}); {requests} requests per query, "
        f"httpx -> uvicorn (own process); load average {load} on {os.cpu_count()} CPUs"
    )
    header = (
        f"{'query':<24} {'median ms':>9} {'p95 ms':>8} {'x base':>7} {'rows':>7} "
        f"{'sql count':>9} {'sql page':>8}  target"
    )
    print(header)
    print("-" * len(header))
    print(
        f"{base.name:<24.24} {base.median_ms:>9.1f} {base.p95_ms:>8.1f} {1:>7.1f} {'':>7} "
        f"{'':>9} {'':>8}"
    )
    ok = True
    for f in figures:
        good = f.median_ms < TARGET_MS
        ok &= good
        print(
            f"{f.name:<24} {f.median_ms:>9.1f} {f.p95_ms:>8.1f} "
            f"{f.median_ms / base.median_ms:>7.1f} {f.total if f.total is not None else '?':>7} "
            f"{f.sql_count_ms:>9.1f} {f.sql_page_ms:>8.1f}  {'ok' if good else 'MISSED'}"
        )
    print(f"\nbare SELECT id FROM cases LIMIT 50 without HTTP: {raw_ms:.2f} ms (median)")
    print(f"target: median < {TARGET_MS:.0f} ms for every query: {'met' if ok else 'MISSED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--compare", action="store_true", help="then add the proposed indexes and measure again"
    )
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doorstep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "case_list.db"
    try:
        for old in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            old.unlink(missing_ok=True)
        built = build(db, args.cases)
        print(f"built {built['cases']:,} cases in {built['seconds']:.1f} s: {db}")
        runs: dict[str, Any] = {}
        titles = {"schema": "the schema as migrated"}
        if args.compare:
            titles["proposed"] = "with the proposed indexes: " + "; ".join(
                d.split(" ON ")[1] for d in PROPOSED_INDEXES
            )
        ok = True
        for key, title in titles.items():
            if key == "proposed":
                add_proposed_indexes(db)
            base, figures, raw_ms = measure(workdir, db, args.requests)
            passed = report(built, base, figures, raw_ms, args.requests, title)
            if key == "schema":  # the exit status: the app as it is
                ok = passed
            runs[key] = {
                "raw_select_ms": raw_ms,
                "baseline": base.__dict__,
                "queries": [f.__dict__ for f in figures],
                "target_met": passed,
            }
        if args.json:
            args.json.write_text(json.dumps({"built": built, **runs}, indent=2, ensure_ascii=False))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
