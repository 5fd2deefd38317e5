"""Load test: a morning's mix of verifiers, managers and the lender against the real app.

    python bench/load.py [--cases 100000] [--verifiers 300] [--managers 30] [--duration 120]
                         [--think 10 30] [--manager-think 5 15] [--driver-processes 2]
                         [--workers 2] [--database-url URL] [--workdir DIR] [--json FILE]

1. build   `bench/case_list.py`'s book (N cases in eight cities, SQLite), copied into
           PostgreSQL when `--database-url` is given (an empty, migrated database or
           schema); then the field: one verifier per user in teams of two, each team with
           its own live-assigned, scheduled cases (`--per-verifier` each) whose customers
           have an encrypted home address, 30 managers of the four big cities, an
           auditor's API token for the lender's feed. Every user gets a bearer token.
2. serve   the real app (`uvicorn doorstep.app:create_app --factory --workers W`) and, as
           the ceiling, a bare FastAPI app (`bench/load.py`'s `bare`: one trivial JSON
           route) the same way, each in its own processes on 127.0.0.1.
3. drive   `--driver-processes` client processes (one asyncio httpx client each, the users
           dealt round-robin, a common start; samples merged) for `--duration` seconds:
           - each verifier, with a think time (`--think`, default 10-30 s: reading,
             walking, talking) before every step: GET /day (the first one counted apart:
             it reveals and audits the day's addresses), then per case the case page, the
             dossier PDF for a `--pdf-share` of them, rendered the night before by the
             batch's dossier step unless `--no-prepare` (again at the door for `--pdf-again`
             of those), POST check-in, POST submit (the interview and a ~100 KB photo,
             with an idempotency key); when the cases are done only the day page;
           - each manager: a filtered case list (city, bucket, DPD range, state, page),
             every `--manager-think` seconds;
           - the lender: GET /api/feedback every `--lender-every` s, following the cursor;
           then the same number of users against the bare route, without think time, for
           `--ceiling-duration` seconds, by the same driver processes.
4. report  requests/s, p50/p95/p99 and errors per endpoint; the ceiling's; the ratio; CPU
           seconds of the app's workers and of the drivers; /proc/loadavg before and
           after. Targets (PostgreSQL, 300 verifiers): no errors, p95 < 200 ms for
           reads, < 500 ms for submissions.

The driver shares the machine with the server: on 2 cores it takes part of the CPU the
server would have, so the figures are a floor of what the app does on its own machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent))
import case_list  # the 100k-case book builder, reused

READ_P95_MS, SUBMIT_P95_MS = 200.0, 500.0
RULES = '# the load test runs at any hour: no quiet hours\njurisdiction = "cn"\n\n[rules.CN-HOURS]\nenabled = false\n'  # noqa: E501
DATA_KEY = "bench-load"  # replaced by a fresh Fernet key per run
FORM = {
    "met": "borrower",
    "disclosure_ack": "on",
    "address_status": "valid",
    "reasons": ["job_loss"],
    "willingness": "3",
    "ability_per_month": "500",
    "leaning": "hardship",
    "outcome": "none",
}
AT_THE_DOOR = {
    "partner_present": "true",
    "id_shown": "true",
    "recording_on": "true",
    "accuracy": "15",
}

bare = FastAPI()
"""The ceiling: what FastAPI and uvicorn do with nothing behind a route."""


@bare.get("/ping")
def ping() -> dict[str, str]:
    return {"ok": "yes"}


# --- build --------------------------------------------------------------------------------


def copy_into(sqlite_url: str, target_url: str) -> dict[str, int]:
    """Every row of the SQLite build into an empty, migrated PostgreSQL database."""
    from sqlalchemy import func, insert, select, text

    from doorstep.store import migrate
    from doorstep.store.db import make_engine
    from doorstep.store.models import Case
    from doorstep.store.models.base import Base

    source, target = make_engine(sqlite_url), make_engine(target_url)
    migrate.upgrade(target)
    with target.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Case)):
            raise SystemExit("--database-url must name an empty database (or schema)")
    copied = {}
    with source.connect() as reading, target.begin() as writing:
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in reading.execute(select(table))]
            for chunk in range(0, len(rows), 10_000):
                writing.execute(insert(table), rows[chunk : chunk + 10_000])
            if rows:
                copied[table.name] = len(rows)
            if "id" in table.columns and table.columns["id"].autoincrement is not False and rows:
                writing.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
        writing.execute(text("ANALYZE"))
    source.dispose()
    target.dispose()
    return copied


@dataclass
class Field:
    verifiers: list[tuple[str, list[int]]] = field(default_factory=list)  # token, cases
    usernames: list[str] = field(default_factory=list)  # of the verifiers, in that order
    managers: list[str] = field(default_factory=list)
    lender: str = ""


def opening(made: Field, share: float, seed: int = 7) -> frozenset[int]:
    """The cases whose dossier their verifier opens during the mix (drawn once, so the
    batch's preparation and the drivers agree)."""
    draw = random.Random(seed)
    return frozenset(c for _, cases in made.verifiers for c in cases if draw.random() < share)


def prepare(
    url: str, var_dir: Path, made: Field, opened: frozenset[int], data_key: str
) -> tuple[int, float]:
    """The daily batch's dossier step (`dossier.prepare_dossiers`, as the `dossiers` step
    runs it at night) for the dossiers the mix will open, each for its own verifier: the
    rest would only cost batch time. Returns (prepared, seconds)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from doorstep.config import Settings
    from doorstep.domain.ports import SystemClock
    from doorstep.integrations.crypto import DataCipher
    from doorstep.services.lender import dossier
    from doorstep.store.db import make_engine
    from doorstep.store.models import User

    started = time.perf_counter()
    engine = make_engine(url)
    with Session(engine) as session:
        by_name = {u.username: u for u in session.scalars(select(User))}
        readers = [
            (by_name[name].id, case_id)
            for name, (_, cases) in zip(made.usernames, made.verifiers, strict=True)
            for case_id in cases
            if case_id in opened
        ]
        prepared, _ = dossier.prepare_dossiers(
            session,
            readers,
            zone=Settings().zone,
            cache_dir=dossier.cache_folder(var_dir),
            now=SystemClock().now(),
            cipher=DataCipher([data_key]),  # the cache is sealed with the app's key
        )
    engine.dispose()
    return prepared, time.perf_counter() - started


def populate(
    url: str, verifiers: int, managers: int, per_verifier: int, data_key: str, lookup_key: str
) -> Field:
    """Teams of two verifiers with live assignments to scheduled cases, each case's
    customer with an encrypted home address (what /day reveals and check-in measures the
    distance to), managers, tokens."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert, select, update

    from doorstep.domain.access import SYSTEM, Role
    from doorstep.domain.audit import Keyring
    from doorstep.integrations.crypto import DataCipher, HmacHasher, new_lookup_key
    from doorstep.services.conduct import audit
    from doorstep.services.people import teams, users
    from doorstep.store.db import make_engine, transaction
    from doorstep.store.models import Assignment, Case, ContactPoint

    # Sign-in is by bearer token here: Argon2 at its real cost (0.4 s) would only slow the
    # build. The app under test verifies nothing with it.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    engine = make_engine(url)
    audit.use_keys(engine, Keyring.of(new_lookup_key()))  # throwaway, as the data keys are
    made = Field()
    now = datetime.now(UTC)
    with transaction(engine) as session:
        wanted = verifiers * per_verifier
        ids = session.scalars(
            select(Case.id)
            .where(Case.city.in_(case_list.MANAGER_REGIONS), Case.state.in_(("ready", "new")))
            .order_by(Case.id)
            .limit(wanted)
        ).all()
        if len(ids) < wanted:
            raise SystemExit(f"only {len(ids)} cases to assign, {wanted} wanted: more --cases")
        session.execute(
            update(Case).where(Case.id.in_(ids)).values(state="scheduled", hold_reason=None)
        )
        from doorstep.services.conduct.personal_data import seal_position

        cipher, hasher = DataCipher([data_key]), HmacHasher(lookup_key)
        homes = []
        for case_id, customer_id, city, district in session.execute(
            select(Case.id, Case.customer_id, Case.city, Case.district).where(Case.id.in_(ids))
        ):
            address = f"{city}{district}幸福路{case_id % 300 + 1}号{case_id % 20 + 1}单元"
            homes.append({
                "customer_id": customer_id, "channel": "address", "kind": "home",
                "value": cipher.encrypt(address), "value_hash": hasher.digest(address),
                "value_masked": f"{city}{district}****", "city": city, "district": district,
                "position": seal_position(cipher, 39.9, 116.44),
                "source": "lender", "observed_at": now,
                "status": "verified", "confidence": 0.9, "created_at": now, "updated_at": now,
            })  # fmt: skip
        session.execute(insert(ContactPoint), homes)
        rows = []
        for n in range(0, verifiers, 2):
            pair = [
                users.add_user(
                    session,
                    SYSTEM,
                    users.NewUser(
                        f"verifier{n + k:03d}",
                        f"外访员{n + k}",
                        Role.VERIFIER,
                        case_list.PASSWORD,
                        None,
                        f"WF-{n + k:04d}",
                    ),
                    hasher=cheap,
                )
                for k in range(2)
            ]
            team = teams.create_team(session, SYSTEM, f"外访{n // 2:03d}组", None, pair)
            for k, user in enumerate(pair):
                mine = list(ids[(n + k) * per_verifier : (n + k + 1) * per_verifier])
                rows += [
                    {
                        "case_id": c,
                        "team_id": team.id,
                        "starts_at": now - timedelta(hours=1),
                        "ends_at": now + timedelta(hours=12),
                    }
                    for c in mine
                ]
                made.verifiers.append((_token(session, user, now), mine))
                made.usernames.append(user.username)
        session.execute(insert(Assignment), rows)
        for n in range(managers):
            user = users.add_user(
                session,
                SYSTEM,
                users.NewUser(
                    f"manager{n:02d}", f"主管{n}", Role.MANAGER, case_list.PASSWORD,
                    case_list.MANAGER_REGIONS, None,
                ),
                hasher=cheap,
            )  # fmt: skip
            made.managers.append(_token(session, user, now))
        lender = users.add_user(
            session,
            SYSTEM,
            users.NewUser("lender", "Lender feed", Role.AUDITOR, case_list.PASSWORD, None, None),
            hasher=cheap,
        )
        made.lender = _token(session, lender, now)
    engine.dispose()
    return made


def _token(session: Any, user: Any, now: datetime) -> str:
    """A bearer token of every scope for the whole run (reads, writes, the feedback feed)."""
    from doorstep.domain.access import SYSTEM
    from doorstep.domain.credentials import Scope
    from doorstep.services.people import tokens

    every = frozenset(Scope)
    return tokens.issue(
        session, SYSTEM, user, "load", scopes=every, expires_at=now + timedelta(days=1), now=now
    )


# --- serve --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    app: str, env: dict[str, str], workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "uvicorn"), app, f"--workers={workers}",
        "--host=127.0.0.1", f"--port={port}", "--log-level=warning", "--no-access-log",
        "--timeout-keep-alive=75",  # as `doorstep serve`: longer than the clients' idle expiry
        f"--app-dir={Path(__file__).resolve().parent}",
    ]  # fmt: skip
    if app.startswith("doorstep."):
        command.append("--factory")
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{app} exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(f"{url}/ping" if app.startswith("load") else f"{url}/login", timeout=2)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{app} did not start in 90 s")


# --- drive --------------------------------------------------------------------------------


@dataclass
class Sample:
    endpoint: str
    ms: float
    ok: bool
    status: int


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    until: float = float("inf")  # no new request after this (those in flight finish)

    async def call(
        self, client: Any, endpoint: str, method: str, url: str, expect: tuple[int, ...], **kw: Any
    ) -> Any:
        if time.monotonic() >= self.until:
            return None
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kw)
            status = response.status_code
        except Exception as exc:  # a timeout or a dropped connection: an error like a 5xx
            response, status = None, 0
            self.failures[f"{endpoint}: {type(exc).__name__}"] = (
                self.failures.get(f"{endpoint}: {type(exc).__name__}", 0) + 1
            )
        ms = (time.perf_counter() - started) * 1000
        ok = status in expect
        if not ok and status:
            key = f"{endpoint}: HTTP {status}"
            self.failures[key] = self.failures.get(key, 0) + 1
        self.samples.append(Sample(endpoint, ms, ok, status))
        return response if ok else None


def photo() -> bytes:
    """A ~100 KB PNG (noise does not compress), made unique by trailing bytes after IEND."""
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (180, 180), os.urandom(180 * 180 * 3)).save(out, "PNG")
    return out.getvalue()


FILTERS = [
    "city=上海市&bucket=M2",
    "min_dpd=31&max_dpd=90",
    "state=ready&min_amount=5000",
    "city=北京市&min_dpd=91",
    "bucket=M1&page=20",
    "",
]


async def verifier(
    run: Run,
    client: Any,
    token: str,
    cases: list[int],
    until: float,
    think: tuple[float, float],
    image: bytes,
    opened: frozenset[int],
    pdf_again: float,
) -> None:
    """One verifier's morning: the day page, then case by case the case page (sometimes
    the dossier, sometimes again at the door), check-in, the interview's submission; a
    think time before every step (reading, walking, talking: a phone is not clicked every
    second). When the cases are done, only the day page now and then."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}
    todo = list(cases)

    async def pause() -> bool:
        await asyncio.sleep(random.uniform(*think))
        return time.monotonic() < until

    await asyncio.sleep(random.uniform(0, think[1]))  # the morning does not start in step
    first = True
    while time.monotonic() < until:
        # the first view reveals (and audits) every address of the day; later ones read
        endpoint = "GET /day (first)" if first else "GET /day"
        first = False
        await run.call(client, endpoint, "GET", "/day", (200,), headers=headers)
        if not todo:
            await pause()
            continue
        if not await pause():
            break
        case_id = todo.pop()
        await run.call(
            client, "GET /cases/{id}", "GET", f"/cases/{case_id}", (200,), headers=headers
        )
        dossier = f"/cases/{case_id}/dossier.pdf"
        opens = case_id in opened
        if opens and await pause():  # rendered now, unless the batch prepared it
            await run.call(
                client, "GET dossier.pdf (first)", "GET", dossier, (200,), headers=headers
            )
        if not await pause():
            break
        if opens and random.random() < pdf_again:  # read again at the door: the cache
            await run.call(
                client, "GET dossier.pdf (cached)", "GET", dossier, (200,), headers=headers
            )
        at = {"lat": "39.9", "lng": "116.44", **AT_THE_DOOR}
        at["device_time"] = datetime.now(UTC).isoformat()
        answer = await run.call(
            client, "POST check-in", "POST", f"/cases/{case_id}/check-in", (303,),
            data=at, headers=headers,
        )  # fmt: skip
        if not await pause():  # the interview
            break
        if answer is None:
            continue
        visit_id = answer.headers["location"].rsplit("/", 1)[1]
        await run.call(
            client, "POST submit", "POST", f"/visits/{visit_id}/submit", (201,),
            data={**FORM, "idempotency_key": uuid.uuid4().hex},
            files={"evidence": ("door.png", image + os.urandom(16), "image/png")},
            headers=headers,
        )  # fmt: skip
        await pause()


async def manager(
    run: Run, client: Any, token: str, until: float, think: tuple[float, float]
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}
    await asyncio.sleep(random.uniform(0, think[1]))
    while time.monotonic() < until:
        query = random.choice(FILTERS)
        await run.call(
            client, "GET /cases?filters", "GET", f"/cases?{query}", (200,), headers=headers
        )
        await asyncio.sleep(random.uniform(*think))


async def lender(run: Run, client: Any, token: str, until: float, every: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    cursor = ""
    while time.monotonic() < until:
        path = f"/api/feedback?cursor={cursor}" if cursor else "/api/feedback"
        answer = await run.call(client, "GET /api/feedback", "GET", path, (200,), headers=headers)
        if answer is not None:
            cursor = answer.json().get("next_cursor") or cursor
        await asyncio.sleep(every)


async def ceiling(run: Run, client: Any, until: float) -> None:
    while time.monotonic() < until:
        await run.call(client, "GET /ping (bare)", "GET", "/ping", (200,))


@dataclass
class Share:
    """What one driver process plays: its slice of the users, from a common start."""

    url: str
    start_at: float  # time.time() when every process starts
    seconds: float
    verifiers: list[tuple[str, list[int]]] = field(default_factory=list)
    managers: list[str] = field(default_factory=list)
    lender: str = ""
    bare_users: int = 0  # >0: the ceiling, that many users without think time
    think: tuple[float, float] = (10.0, 30.0)
    manager_think: tuple[float, float] = (5.0, 15.0)
    lender_every: float = 1.0
    opened: frozenset[int] = frozenset()
    pdf_again: float = 0.5


@dataclass
class Played:
    samples: list[Sample]
    failures: dict[str, int]
    cpu_seconds: float  # the driver process's own CPU time while it played


def play(share: Share) -> Played:
    """A driver process: one asyncio httpx client for its users (run in a child process)."""
    return asyncio.run(_play(share))


async def _play(share: Share) -> Played:
    import httpx

    random.seed(os.getpid())
    users = max(share.bare_users, len(share.verifiers) + len(share.managers) + 1)
    limits = httpx.Limits(max_connections=users + 5, max_keepalive_connections=users + 5)
    image = photo()
    run = Run()
    await asyncio.sleep(max(0.0, share.start_at - time.time()))
    cpu = time.process_time()
    async with httpx.AsyncClient(base_url=share.url, limits=limits, timeout=30) as client:
        until = run.until = time.monotonic() + share.seconds
        if share.bare_users:
            await asyncio.gather(*(ceiling(run, client, until) for _ in range(share.bare_users)))
        else:
            await asyncio.gather(
                *(
                    verifier(
                        run,
                        client,
                        t,
                        c,
                        until,
                        share.think,
                        image,
                        share.opened,
                        share.pdf_again,
                    )
                    for t, c in share.verifiers
                ),
                *(manager(run, client, t, until, share.manager_think) for t in share.managers),
                *(
                    [lender(run, client, share.lender, until, share.lender_every)]
                    if share.lender
                    else []
                ),
            )
    return Played(run.samples, run.failures, time.process_time() - cpu)


def drive(shares: list[Share]) -> tuple[Run, float]:
    """Every share in its own process, started together; the samples merged, and the
    drivers' CPU seconds."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    merged, cpu = Run(), 0.0
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("fork")) as pool:
        for played in pool.map(play, shares):
            merged.samples += played.samples
            for what, n in played.failures.items():
                merged.failures[what] = merged.failures.get(what, 0) + n
            cpu += played.cpu_seconds
    return merged, cpu


def split(made: Field, processes: int, **common: Any) -> list[Share]:
    """The users dealt round-robin to `processes` driver processes; the lender to the first."""
    shares = [Share(lender=made.lender if n == 0 else "", **common) for n in range(processes)]
    for n, one in enumerate(made.verifiers):
        shares[n % processes].verifiers.append(one)
    for n, token in enumerate(made.managers):
        shares[n % processes].managers.append(token)
    return shares


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (from /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def children(pid: int) -> list[int]:
    """The worker processes a uvicorn master started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def profile(pids: list[int], seconds: float, out: Path) -> list[Path]:
    """py-spy samples of each worker for `seconds` (collapsed stacks), taken mid-run."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    files, running = [], []
    for pid in pids:
        path = out / f"pyspy-{pid}.txt"
        command = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds))]
        command += ["--format", "raw", "--output", str(path), "--nonblocking", "--rate", "50"]
        running.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        )
        files.append(path)
    for process in running:
        process.wait(seconds + 60)
    return [f for f in files if f.exists()]


def hot_spots(files: list[Path], top: int = 12) -> list[tuple[str, float, float]]:
    """(frame, share of samples inside it, share where it is the leaf), for the frames of
    the app and its libraries, from py-spy's collapsed stacks."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                      + ")" if " (" in f else f for f in stack.split(";")]  # fmt: skip
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
    if not total:
        return []
    ranked = sorted(leaf.items(), key=lambda kv: -kv[1])[:top]
    return [(frame, inclusive.get(frame, 0) / total, n / total) for frame, n in ranked]


# --- report -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table(run: Run, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for endpoint in sorted({s.endpoint for s in run.samples}):
        mine = [s for s in run.samples if s.endpoint == endpoint]
        ms = [s.ms for s in mine]
        rows.append(
            {
                "endpoint": endpoint,
                "requests": len(mine),
                "rps": round(len(mine) / seconds, 1),
                "p50_ms": round(statistics.median(ms), 1),
                "p95_ms": round(percentile(ms, 95), 1),
                "p99_ms": round(percentile(ms, 99), 1),
                "errors": sum(not s.ok for s in mine),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--verifiers", type=int, default=300)
    parser.add_argument("--managers", type=int, default=30)
    parser.add_argument("--per-verifier", type=int, default=8, help="cases each verifier visits")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of the mix")
    parser.add_argument("--ceiling-duration", type=float, default=20.0)
    parser.add_argument(
        "--think", type=float, nargs=2, default=(10.0, 30.0), metavar=("MIN", "MAX"),
        help="a verifier's pause before each step, seconds (reading, walking, talking)",
    )  # fmt: skip
    parser.add_argument(
        "--manager-think", type=float, nargs=2, default=(5.0, 15.0), metavar=("MIN", "MAX")
    )
    parser.add_argument("--lender-every", type=float, default=1.0, help="feed poll, seconds")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--driver-processes", type=int, default=2,
        help="client processes the users are dealt to (one asyncio httpx client each)",
    )  # fmt: skip
    parser.add_argument(
        "--pdf-share", type=float, default=0.1,
        help="share of case openings that also fetch the dossier PDF",
    )  # fmt: skip
    parser.add_argument(
        "--pdf-again", type=float, default=0.5,
        help="share of those that fetch it again at the door (served from the day's cache)",
    )  # fmt: skip
    parser.add_argument(
        "--no-prepare", dest="prepare", action="store_false",
        help="leave the dossiers to be rendered on their first download (no night batch)",
    )  # fmt: skip
    parser.add_argument("--database-url", default="", help="PostgreSQL (empty database/schema)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--profile", type=float, default=0.0, metavar="SECONDS",
        help="sample the app's workers with py-spy for this long, mid-run",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.verifiers % 2:
        parser.error("--verifiers must be even (teams of two)")

    from doorstep.integrations.crypto import new_data_key

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doorstep-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    servers: list[subprocess.Popen[bytes]] = []
    data_key, lookup_key = new_data_key(), "bench-load-lookup"
    try:
        started = time.perf_counter()
        db = workdir / "doorstep.db"
        built = case_list.build(db, args.cases)
        url = f"sqlite:///{db}"
        backend = "SQLite"
        if args.database_url:
            copy_into(url, args.database_url)
            url, backend = args.database_url, "PostgreSQL"
        made = populate(url, args.verifiers, args.managers, args.per_verifier, data_key, lookup_key)
        opened = opening(made, args.pdf_share)
        build_s = time.perf_counter() - started
        print(f"built {built['cases']} cases, {args.verifiers} verifiers, {args.managers} "
              f"managers on {backend} in {build_s:.0f} s", flush=True)  # fmt: skip
        if args.prepare:
            prepared, prepare_s = prepare(url, workdir / "var", made, opened, data_key)
            print(f"the batch's dossier step prepared {prepared} dossiers in {prepare_s:.0f} s "
                  f"({prepared / prepare_s:.2f}/s)", flush=True)  # fmt: skip

        (workdir / "rules.toml").write_text(RULES, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOORSTEP_")}
        env.update(
            DOORSTEP_VAR_DIR=str(workdir / "var"),
            DOORSTEP_DATABASE_URL=url,
            DOORSTEP_DATA_KEYS=data_key,
            DOORSTEP_LOOKUP_KEY=lookup_key,
            DOORSTEP_SESSION_SECRET="bench-load-session",
            DOORSTEP_RULES_FILE=str(workdir / "rules.toml"),
            DOORSTEP_VISIT_HOURS="00:00-23:59",
        )
        app, app_url = serve("doorstep.app:create_app", env, args.workers, workdir / "app.log")
        servers.append(app)
        top, bare_url = serve("load:bare", env, args.workers, workdir / "bare.log")
        servers.append(top)

        load_before = loadavg()
        spots: list[tuple[str, float, float]] = []
        sampler = None
        if args.profile:
            import threading

            def sample() -> None:
                time.sleep(min(10.0, args.duration / 4))
                spots.extend(hot_spots(profile(children(app.pid), args.profile, workdir)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        processes = max(1, args.driver_processes)
        workers = children(app.pid)
        app_cpu = cpu_seconds(workers)
        run, driver_cpu = drive(
            split(
                made,
                processes,
                url=app_url,
                start_at=time.time() + 2,
                seconds=args.duration,
                think=tuple(args.think),
                manager_think=tuple(args.manager_think),
                lender_every=args.lender_every,
                opened=opened,
                pdf_again=args.pdf_again,
            )
        )
        app_cpu = cpu_seconds(workers) - app_cpu
        load_mid = loadavg()
        users = len(made.verifiers) + len(made.managers) + 1
        ceiling_run, ceiling_driver_cpu = drive(
            [
                Share(
                    url=bare_url,
                    start_at=time.time() + 2,
                    seconds=args.ceiling_duration,
                    bare_users=users // processes + (n < users % processes),
                )
                for n in range(processes)
            ]
        )
        load_after = loadavg()
        if sampler is not None:
            sampler.join(args.profile + 90)
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    took, ceiling_took = args.duration, args.ceiling_duration  # the windows requests start in
    rows = table(run, took)
    top_rows = table(ceiling_run, ceiling_took)
    total = len(run.samples)
    errors = sum(not s.ok for s in run.samples)
    rps = total / took
    top_rps = len(ceiling_run.samples) / ceiling_took
    top_p50 = statistics.median(s.ms for s in ceiling_run.samples)
    reads = [r for r in rows if not r["endpoint"].startswith("POST")]
    submit = next((r for r in rows if r["endpoint"] == "POST submit"), None)
    verdict = {
        "no errors": errors == 0,
        f"reads p95 < {READ_P95_MS:.0f} ms": all(r["p95_ms"] < READ_P95_MS for r in reads),
        f"submit p95 < {SUBMIT_P95_MS:.0f} ms": submit is not None
        and submit["p95_ms"] < SUBMIT_P95_MS,
    }
    print(
        f"\n{backend}, uvicorn --workers {args.workers}, {args.verifiers} verifiers + "
        f"{args.managers} managers + 1 lender, {took:.0f} s, think {args.think[0]:g}-"
        f"{args.think[1]:g} s (managers {args.manager_think[0]:g}-{args.manager_think[1]:g} s),"
        f" {processes} driver processes, {os.cpu_count()} cores"
    )
    print(f"/proc/loadavg before: {load_before}")
    print(f"/proc/loadavg after the mix: {load_mid}; after the ceiling: {load_after}")
    print(
        f"CPU seconds in the mix: app workers {app_cpu:.1f} ({app_cpu / max(total, 1) * 1000:.1f}"
        f" ms a request), drivers {driver_cpu:.1f}; ceiling drivers {ceiling_driver_cpu:.1f}"
    )
    print(f"{'endpoint':<26}{'requests':>9}{'req/s':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'errors':>8}")
    for r in rows + top_rows:
        print(
            f"{r['endpoint']:<26}{r['requests']:>9}{r['rps']:>8}{r['p50_ms']:>9}"
            f"{r['p95_ms']:>9}{r['p99_ms']:>9}{r['errors']:>8}"
        )
    print(
        f"all: {rps:.1f} req/s, error rate {errors / max(total, 1):.2%}; bare FastAPI ceiling "
        f"{top_rps:.0f} req/s (p50 {top_p50:.1f} ms, {users} users without think time); "
        f"app / ceiling = {rps / top_rps:.3f}"
    )
    for what, count in sorted(run.failures.items()):
        print(f"  failed: {what} x{count}")
    for what, ok in verdict.items():
        print(f"  target {what}: {'met' if ok else 'MISSED'}")
    if spots:
        print("where the workers' time goes (py-spy; leaf = on-CPU in that frame):")
        for frame, inside, own in spots:
            print(f"  {own:6.1%} leaf {inside:6.1%} inside  {frame[:110]}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "backend": backend,
                    "workers": args.workers,
                    "driver_processes": processes,
                    "verifiers": args.verifiers,
                    "managers": args.managers,
                    "think": args.think,
                    "manager_think": args.manager_think,
                    "seconds": took,
                    "endpoints": rows,
                    "rps": rps,
                    "error_rate": errors / max(total, 1),
                    "ceiling_rps": top_rps,
                    "ceiling_p50_ms": top_p50,
                    "ceiling": top_rows,
                    "ratio": rps / top_rps,
                    "app_cpu_seconds": app_cpu,
                    "driver_cpu_seconds": driver_cpu,
                    "loadavg_before": load_before,
                    "loadavg_after_mix": load_mid,
                    "loadavg_after": load_after,
                    "failures": run.failures,
                    "targets": verdict,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
