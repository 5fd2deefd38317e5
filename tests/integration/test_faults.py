"""Faults with real processes, no mocks: the server killed with SIGKILL during visit
submissions, `doorstep ingest` killed mid-batch, PostgreSQL dropping the app's connections
under load, and a full disk under the evidence store.

What each test proves:
- kill -9 during submissions: after a restart no visit is half-written (a submitted visit
  always has its verdict, evidence and lender event), every submission the client was told
  succeeded is there, and the client's retries of every submission with the same
  idempotency key add nothing twice;
- kill -9 during ingestion: the batch is one transaction, so nothing of it is left; a
  re-ingest gives exactly the database a clean single ingest gives (row counts and
  per-table checksums);
- PostgreSQL terminating every backend of the app (what a server restart does to the
  pool): the requests after it succeed without anyone restarting the app;
- ENOSPC on an evidence upload (a 1 MB tmpfs under the store): a 507 problem naming the
  cause, no Evidence row, no partial file, the visit still open; the same key succeeds once
  there is room.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM
from doorstep.integrations.crypto import FernetCipher, HmacHasher, new_data_key
from doorstep.services import visits as visit_service
from doorstep.services.people import teams
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import Case, Evidence, OutboxEvent, Team, User, Verdict, Visit
from doorstep.store.models.base import Base
from tests.conftest import POSTGRES_URL, _postgres_reachable
from tests.factories.audit import AUDIT_KEY, signing
from tests.factories.databases import sqlite_database
from tests.factories.people import issue_token
from tests.factories.world import ANYTIME_RULES, World, build_world
from tests.integration.test_visits import HOME, actor, rules, schedule

pytestmark = [pytest.mark.db, pytest.mark.slow]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
LOOKUP_KEY = "fault-tests-lookup-key"
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


# --- Databases the child processes can reach ---------------------------------------------


class Database:
    """A fresh database and the URL that reaches it from another process."""

    def __init__(self, url: str, cleanup: Callable[[], None]) -> None:
        self.url = url
        self.engine = signing(make_engine(url))
        self._cleanup = cleanup

    def close(self) -> None:
        self.engine.dispose()
        self._cleanup()


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Makes fresh, migrated databases of the test's backend (param: sqlite | postgresql)."""
    backend: str = request.param
    if backend == "postgresql" and not _postgres_reachable():
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
    made: list[Database] = []

    def make() -> Database:
        if backend == "sqlite":
            path = tmp_path / f"db{len(made)}.sqlite"
            sqlite_database(path).engine.dispose()  # a copy of the migrated template
            db = Database(f"sqlite:///{path}", lambda: None)
        else:
            schema = f"f_{uuid.uuid4().hex[:12]}"
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))

            def drop() -> None:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

            options = quote(f"-csearch_path={schema}")
            db = Database(f"{POSTGRES_URL}?options={options}&application_name={schema}", drop)
        migrate.upgrade(db.engine)
        made.append(db)
        return db

    try:
        yield make
    finally:
        for db in made:
            db.close()


BOTH = pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)


# --- The server in its own process ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(var_dir: Path, url: str, data_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORSTEP_")}
    env.update(
        PYTHONPATH=str(ROOT / "src"),  # the processes run this tree's code, not an installed one
        DOORSTEP_VAR_DIR=str(var_dir),
        DOORSTEP_DATABASE_URL=url,
        DOORSTEP_DATA_KEYS=data_key,
        DOORSTEP_LOOKUP_KEY=LOOKUP_KEY,
        DOORSTEP_RULES_FILE=str(ANYTIME_RULES),  # any hour: the test runs at any time of day
        DOORSTEP_VISIT_HOURS="00:00-23:59",
        DOORSTEP_SESSION_SECRET="fault-tests-session-secret",
        DOORSTEP_AUDIT_KEY=AUDIT_KEY,  # the key the test's own engine signs with
    )
    return env


class Server:
    """`uvicorn doorstep.app:create_app --factory` on a free port (settings from the
    environment, as `doorstep serve` reads them)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(BIN / "uvicorn"),
                    "doorstep.app:create_app",
                    "--factory",
                    "--host=127.0.0.1",
                    f"--port={self.port}",
                    "--log-level=warning",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start in 30 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def token_for(engine: Engine, username: str) -> dict[str, str]:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        token = issue_token(session, user, label="fault tests")
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def photo(n: int, size: int = 8) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (n % 256, n // 256 % 256, 7)).save(out, "PNG")
    return out.getvalue()


def open_visits(world: World, count: int) -> list[int]:
    """`count` Beijing cases assigned to the verifier's team, scheduled and checked in."""
    now = datetime.now(UTC)
    with Session(world.engine) as session:
        team_id = session.scalars(select(Team.id).where(Team.name == "北京一组")).one()
        beijing = session.scalars(
            select(Case.id).where(Case.city == "北京市").order_by(Case.id)
        ).all()
    chosen = [c for c in beijing if c != world.other_case][:count]
    assert len(chosen) == count, f"only {len(chosen)} Beijing cases"
    with transaction(world.engine) as session:
        for case_id in chosen:
            if case_id != world.assigned_case:
                teams.assign(
                    session,
                    SYSTEM,
                    case_id,
                    team_id,
                    now - timedelta(hours=1),
                    now + timedelta(hours=8),
                )
    visit_ids = []
    for case_id in chosen:
        schedule(world, case_id)
        with transaction(world.engine) as session:
            visit, _ = visit_service.check_in(
                session,
                actor(session, "verifier"),
                case_id,
                lat=HOME[0],
                lng=HOME[1],
                accuracy_m=10.0,
                device_time=now,
                rules=rules(cipher=world.cipher),  # the world is sealed with its own key
                now=now,
            )
            visit_ids.append(visit.id)
    return visit_ids


def keys_pair() -> tuple[str, tuple[object, object]]:
    key = new_data_key()
    return key, (FernetCipher([key]), HmacHasher(LOOKUP_KEY))


# --- kill -9 during visit submissions -------------------------------------------------------


@BOTH
def test_kill_during_submissions_loses_and_doubles_nothing(
    databases: Callable[[], Database], servers: list[Server], tmp_path: Path
) -> None:
    db = databases()
    data_key, keys = keys_pair()
    world = build_world(db.engine, tmp_path, keys, customers=20)
    visit_ids = open_visits(world, 12)
    me = token_for(db.engine, "verifier")
    submissions = {visit_id: f"fault-{visit_id}-{uuid.uuid4().hex[:12]}" for visit_id in visit_ids}
    server = Server(_environment(tmp_path / "var", db.url, data_key), tmp_path / "server.log")
    servers.append(server)
    server.start()

    told: dict[int, int] = {}  # visit id -> the status the client was given (201/200)
    cut: list[int] = []  # sent, no answer: the client does not know
    unsent: list[int] = []  # no connection: the server was gone
    lock = threading.Lock()

    def send(visit_id: int, client: httpx.Client) -> httpx.Response:
        return client.post(
            f"/visits/{visit_id}/submit",
            data={**FORM, "idempotency_key": submissions[visit_id]},
            files={"evidence": (f"door{visit_id}.png", photo(visit_id), "image/png")},
            headers=me,
        )

    sending: set[int] = set()  # requests on their way: the kill must catch one of them

    def first_try(visit_id: int) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=20) as client:
                with lock:
                    sending.add(visit_id)
                answer = send(visit_id, client)
        except httpx.ConnectError:
            with lock:
                unsent.append(visit_id)
                sending.discard(visit_id)
            return
        except httpx.TransportError:
            with lock:
                cut.append(visit_id)
                sending.discard(visit_id)
            return
        assert answer.status_code == 201, answer.text
        with lock:
            told[visit_id] = answer.status_code
            sending.discard(visit_id)

    def ready_to_kill() -> bool:
        """Three answered, and a request under way (else the kill would land between
        requests on a slow machine, and nothing would be in flight)."""
        with lock:
            return len(told) >= 3 and bool(sending)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(first_try, v) for v in visit_ids]
        deadline = time.monotonic() + 20
        while not ready_to_kill() and time.monotonic() < deadline:
            time.sleep(0.001)
        server.kill()  # SIGKILL: no shutdown, no rollback, requests in flight die with it
        for future in futures:
            future.result()
    assert 3 <= len(told) < len(visit_ids), (len(told), len(cut))
    assert cut, "the kill landed between requests: nothing was in flight"

    # Straight after the crash, before any retry: what the client was told is there, and
    # nothing is half-written.
    with Session(db.engine) as session:
        done = set(session.scalars(select(Visit.id).where(Visit.state == "submitted")))
        assert set(told) <= done
        assert_whole(session, done)
        crashed_with = len(done)

    restarted = Server(server.env, tmp_path / "server.log")
    servers.append(restarted)
    restarted.start()
    with httpx.Client(base_url=restarted.url, timeout=20) as client:
        for visit_id in visit_ids:  # the device retries everything with the same key
            answer = send(visit_id, client)
            assert answer.status_code in (200, 201), answer.text
            body = answer.json()
            assert body["visit_id"] == visit_id
            if visit_id in told or visit_id in done:
                assert answer.status_code == 200 and body["replayed"] is True
            # and once more: always the replay
            again = send(visit_id, client)
            assert again.status_code == 200 and again.json()["replayed"] is True

    with Session(db.engine) as session:
        assert set(session.scalars(select(Visit.id).where(Visit.state == "submitted"))) == set(
            visit_ids
        )
        assert_whole(session, set(visit_ids))
        for visit_id, key in submissions.items():
            assert session.scalar(select(Visit.idempotency_key).where(Visit.id == visit_id)) == key
    check_store(tmp_path / "var" / "evidence", db.engine)
    print(
        f"\nkill -9 during submissions: {len(told)} acknowledged, {len(cut)} cut in flight, "
        f"{len(unsent)} refused connection, "
        f"{crashed_with} committed at the crash; after retries {len(visit_ids)} once each"
    )


def assert_whole(session: Session, submitted: set[int]) -> None:
    """Every submitted visit has exactly one verdict, one evidence row and one lender event;
    nothing of the kind exists for a visit that is not submitted."""
    verdicts = dict(
        session.execute(select(Verdict.visit_id, func.count()).group_by(Verdict.visit_id)).all()
    )
    evidence = dict(
        session.execute(select(Evidence.visit_id, func.count()).group_by(Evidence.visit_id)).all()
    )
    assert set(verdicts) == submitted and set(verdicts.values()) <= {1}
    assert set(evidence) == submitted and set(evidence.values()) <= {1}
    case_of = dict(session.execute(select(Visit.id, Visit.case_id)).all())
    events = session.scalars(
        select(OutboxEvent.key).where(OutboxEvent.topic == "visit.verdict")
    ).all()
    assert sorted(events) == sorted(str(case_of[v]) for v in submitted)


def check_store(root: Path, engine: Engine) -> None:
    """Every stored file is whole (its name is its SHA-256) and every Evidence row has its
    file; a temporary file may remain from a write the kill cut short, never under a name."""
    with Session(engine) as session:
        for digest in session.scalars(select(Evidence.sha256)):
            path = root / digest[:2] / digest[2:4] / digest
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(".incoming-"):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


# --- kill -9 during ingestion ---------------------------------------------------------------


def _book(folder: Path, customers: int) -> Path:
    from doorstep.demo.generate import generate_book

    generate_book(folder, customers=customers, as_of=date(2025, 6, 30), seed=7)
    (folder / "demo_truth.csv").unlink(missing_ok=True)  # the generator's answers, not a file
    return folder


def _ingest(env: dict[str, str], book: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "doorstep"), "ingest", str(book)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


WALL_CLOCK = {"created_at", "updated_at", "started_at", "finished_at"}


def checksums(engine: Engine, cipher: FernetCipher) -> dict[str, tuple[int, str]]:
    """Per table with rows: (row count, SHA-256 of the sorted rows). Left out: surrogate
    integer ids and the columns pointing at them (sequences move on after a rollback on
    PostgreSQL) and wall-clock columns filled by a default; ciphertext is compared as
    its clear text (Fernet tokens differ on every encryption)."""
    result = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            surrogate = {
                c.name
                for c in table.columns
                if (c.primary_key and c.autoincrement is not False and c.type.python_type is int)
                or any(
                    fk.column.primary_key
                    and fk.column.type.python_type is int
                    and fk.column.name == "id"
                    for fk in c.foreign_keys
                )
                or (c.default is not None and getattr(c.default, "is_callable", False))
                or c.onupdate is not None
                or c.name in WALL_CLOCK
            }
            columns = [c for c in table.columns if c.name not in surrogate]
            if not columns:
                continue
            rows = connection.execute(select(*columns)).all()
            if not rows:
                continue

            def clear(value: Any) -> str:
                if isinstance(value, str) and value.startswith("gAAAAA"):
                    return "enc:" + cipher.decrypt(value)
                return repr(value)

            lines = sorted("|".join(clear(v) for v in row) for row in rows)
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
            result[table.name] = (len(rows), digest)
    return result


def writing(db: Database) -> bool:
    """Whether another connection holds an open write transaction on the database: on
    PostgreSQL a backend with a transaction id, on SQLite a write lock that a
    `BEGIN IMMEDIATE` cannot take."""
    if db.engine.dialect.name == "postgresql":
        name = db.url.rsplit("application_name=", 1)[1]
        with db.engine.connect() as connection:
            return bool(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                    ),
                    {"name": name},
                ).scalar_one()
            )
    import sqlite3

    path = db.engine.url.database
    assert path is not None
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@BOTH
def test_kill_during_ingest_leaves_nothing_and_reingest_equals_a_clean_one(
    databases: Callable[[], Database], tmp_path: Path
) -> None:
    book = _book(tmp_path / "book", 1500)
    data_key, _ = keys_pair()
    cipher = FernetCipher([data_key])
    clean, crashed = databases(), databases()
    clean_env = _environment(tmp_path / "var-clean", clean.url, data_key)
    crash_env = _environment(tmp_path / "var-crash", crashed.url, data_key)

    reference = _ingest(clean_env, book)
    output, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, output.decode()[-2000:]
    expected = checksums(clean.engine, cipher)
    assert expected["customers"][0] == 1500 and expected["payments"][0] > 10_000

    killed = _ingest(crash_env, book)
    started = time.monotonic()
    deadline = started + 120
    while not writing(crashed) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # into the batch's writes
    assert killed.poll() is None, "the ingest finished before the kill: use a bigger book"
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    at = time.monotonic() - started
    assert checksums(crashed.engine, cipher) == {}, "a killed ingest left rows behind"

    again = _ingest(crash_env, book)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output.decode()[-2000:]
    assert checksums(crashed.engine, cipher) == expected
    print(f"\nkill -9 {at:.1f} s into an ingest, 0.2 s into its writes: nothing left behind")


# --- PostgreSQL drops the app's connections -------------------------------------------------


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
def test_app_reconnects_after_postgres_drops_its_connections(
    databases: Callable[[], Database], servers: list[Server], tmp_path: Path
) -> None:
    db = databases()
    data_key, keys = keys_pair()
    world = build_world(db.engine, tmp_path, keys)
    schedule(world)
    me = token_for(db.engine, "verifier")
    boss = token_for(db.engine, "manager")
    server = Server(_environment(tmp_path / "var", db.url, data_key), tmp_path / "server.log")
    servers.append(server)
    server.start()
    app_name = db.url.rsplit("application_name=", 1)[1]

    results: list[tuple[float, float, int]] = []  # (start, end, status or 0 for no answer)
    stop = threading.Event()

    def load(headers: dict[str, str], path: str) -> None:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    status = client.get(path, headers=headers).status_code
                except httpx.TransportError:
                    status = 0
                results.append((began, time.monotonic(), status))

    threads = [
        threading.Thread(target=load, args=(me, "/day")),
        threading.Thread(target=load, args=(boss, "/cases?city=北京市")),
        threading.Thread(target=load, args=(boss, f"/cases/{world.assigned_case}")),
        threading.Thread(target=load, args=(boss, "/api/cases")),
    ]
    for thread in threads:
        thread.start()
    kills: list[tuple[float, float, int]] = []  # (asked at, answered at, backends ended)
    admin = make_engine(POSTGRES_URL)
    try:
        time.sleep(1.0)
        for _ in range(3):  # three "restarts" while the requests run
            asked = time.monotonic()
            with admin.begin() as connection:
                count = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": app_name},
                ).scalar_one()
            kills.append((asked, time.monotonic(), count))
            time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        admin.dispose()
    assert all(count > 0 for *_, count in kills), kills

    def hit(began: float, ended: float) -> bool:
        """In flight while a termination ran (or within 0.3 s of its answer)."""
        return any(began <= answered + 0.3 and ended >= asked for asked, answered, _ in kills)

    failed_hit = [s for began, ended, s in results if hit(began, ended) and s != 200]
    clean = [(began, s) for began, ended, s in results if not hit(began, ended)]
    after_last = [s for began, s in clean if began > kills[-1][1]]
    assert len(after_last) >= 4, "too few requests after the last termination"
    assert [s for _, s in clean if s != 200] == [], "a request failed outside a termination"
    print(
        f"\npg_terminate_backend x3 ({[c for *_, c in kills]} backends): {len(results)} requests, "
        f"{len(failed_hit)} failed in flight, {len(clean)} others all 200"
    )


# --- ENOSPC on an evidence upload -----------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs where the evidence store lives; SKIPPED (loudly) where mount fails."""
    root = tmp_path / "var" / "evidence"
    root.mkdir(parents=True)
    mount = shutil.which("mount")
    done = (
        subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
            capture_output=True,
            text=True,
        )
        if mount
        else None
    )
    if done is None or done.returncode != 0:
        why = done.stderr.strip() if done else "no mount command"
        pytest.skip(f"DISK-FULL TEST SKIPPED: cannot mount a tmpfs here ({why}); needs root")
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False)


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_disk_full_on_evidence_upload_is_clear_and_saves_nothing(
    databases: Callable[[], Database], servers: list[Server], tiny_disk: Path, tmp_path: Path
) -> None:
    db = databases()
    data_key, keys = keys_pair()
    world = build_world(db.engine, tmp_path, keys)
    (visit_id,) = open_visits(world, 1)
    me = token_for(db.engine, "verifier")
    server = Server(_environment(tmp_path / "var", db.url, data_key), tmp_path / "server.log")
    servers.append(server)
    server.start()
    big = photo(1) + os.urandom(1536 * 1024)  # a PNG signature and 1.5 MB: more than the disk
    key = "disk-full-" + uuid.uuid4().hex[:12]
    with httpx.Client(base_url=server.url, timeout=20) as client:
        answer = client.post(
            f"/visits/{visit_id}/submit",
            data={**FORM, "idempotency_key": key},
            files=[
                ("evidence", ("small.png", photo(2), "image/png")),
                ("evidence", ("big.png", big, "image/png")),
            ],
            headers=me,
        )
        assert answer.status_code == 507, answer.text
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "storage_full" and "no space left" in problem["detail"]

        with Session(db.engine) as session:
            assert session.scalar(select(func.count()).select_from(Evidence)) == 0
            assert session.scalar(select(func.count()).select_from(Verdict)) == 0
            visit = session.get(Visit, visit_id)
            assert visit is not None and visit.state != "submitted"
        leftovers = [p for p in tiny_disk.rglob("*") if p.is_file()]
        assert not [p for p in leftovers if p.name.startswith(".incoming-")], leftovers
        check_store(tiny_disk, db.engine)  # at most the small photo, whole
        assert shutil.disk_usage(tiny_disk).used < 512 * 1024  # the big file's bytes are gone

        # Room again (the device sends the visit once more, a smaller photo): it goes through.
        answer = client.post(
            f"/visits/{visit_id}/submit",
            data={**FORM, "idempotency_key": key},
            files={"evidence": ("small.png", photo(2), "image/png")},
            headers=me,
        )
        assert answer.status_code == 201, answer.text
    with Session(db.engine) as session:
        assert_whole(session, {visit_id})
    check_store(tiny_disk, db.engine)
