"""Benchmark: the daily batch's delinquency step on PostgreSQL, partitioned over Celery
workers (1, 2 and 4 worker processes), against the in-process run of the same session.

    python bench/scale.py [--loans 1000000] [--installments 12] [--partitions 8]
                          [--workers 1,2,4] [--broker redis://127.0.0.1:6379/12]
                          [--database postgresql://postgres@127.0.0.1:5432/test]
                          [--schema bench_scale] [--reuse] [--keep] [--book DIR]

Steps, timed one after the other in this session:

1. generate   the synthetic book (`bench/delinquency.py`'s generator) as Parquet;
2. ingest     it into a fresh PostgreSQL schema through `ingest_files` (COPY staging);
3. in-process `run_delinquency` over the whole book in one transaction (no broker): the
              baseline every speed-up is measured against;
4. workers=N  `doorstep worker --concurrency N` started (not timed), then the step's
              partitions (runs of the slot stored with each loan) enqueued on the broker
              and waited for (`run_partitioned`).

Before each of 3 and 4 the date's snapshots are deleted and the table vacuumed (not
timed), so every run writes the same rows into the same table.

Each partitioned run is checked to give the in-process figures. The 1-minute load
average beside each figure tells how busy the (shared) machine was. The schema is
dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from doorstep.config import Settings
from doorstep.integrations.broker import Broker
from doorstep.integrations.crypto import FernetCipher, HmacHasher, new_data_key
from doorstep.services.delinquency import (
    DelinquencySummary,
    run_delinquency,
    run_partitioned,
    via_broker,
)
from doorstep.services.ingest import ingest_files
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import Installment, Loan, Payment

HERE = Path(__file__).resolve().parent
QUEUE = f"bench-scale-{os.getpid()}"  # this run's own queue on a shared broker


def _generator() -> Any:
    """bench/delinquency.py, for its book generator and as-of date."""
    spec = importlib.util.spec_from_file_location("bench_delinquency", HERE / "delinquency.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def fresh_schema(admin_url: str, schema: str) -> None:
    admin = make_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


def ingest(engine: Engine, folder: Path, settings: Settings) -> int:
    migrate.upgrade(engine)
    cipher, hasher = FernetCipher([new_data_key()]), HmacHasher(new_data_key())
    with transaction(engine) as session:
        report = ingest_files(
            session,
            [folder],
            zone=settings.zone,
            reports_dir=folder.parent / "reports",
            cipher=cipher,
            hasher=hasher,
        )
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return sum(int(f["rows"]) for f in report.files)


def rows_read(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Loan, Installment, Payment)
        )


def clear_date(engine: Engine, as_of: Any) -> None:
    """Untimed, before each run: the date's snapshots gone and the table vacuumed, so every
    run writes the same rows into the same state of the table."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM delinquency_snapshots WHERE as_of = :d"), {"d": as_of})
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE delinquency_snapshots")
        )


def in_process(engine: Engine, settings: Settings, as_of: Any) -> DelinquencySummary:
    with transaction(engine) as session:
        return run_delinquency(
            session, as_of, waterfall=settings.waterfall_rule, buckets=settings.bucket_scheme
        )


def start_worker(url: str, broker: str, concurrency: int, logfile: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DOORSTEP_BROKER_URL": broker,
        "DOORSTEP_DATABASE_URL": url,
        "DOORSTEP_TASK_QUEUE": QUEUE,
    }
    command = [sys.executable, "-c", "from doorstep.cli.main import app; app()", "worker"]
    with logfile.open("wb") as log:
        process = subprocess.Popen(
            [
                *command,
                f"--concurrency={concurrency}",
                "--loglevel=WARNING",
                f"--hostname=bench{concurrency}-{os.getpid()}@%h",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    from celery import Celery

    client = Celery("doorstep", broker=broker)
    try:
        for _ in range(120):  # the worker answers a ping once it consumes
            if process.poll() is not None:
                raise RuntimeError(f"worker exited: {logfile.read_text()[-2000:]}")
            if client.control.ping(timeout=0.5):
                return process
            time.sleep(0.5)
    finally:
        client.close()
    stop_worker(process)
    raise RuntimeError("worker not ready after 60 s")


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the worker this bench started
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--installments", type=int, default=12)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4", help="worker processes, comma-separated")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--schema", default="bench_scale")
    parser.add_argument("--reuse", action="store_true", help="keep the schema's book, skip 1-2")
    parser.add_argument(
        "--book", type=Path, help="the generated book's folder: made there once, reused after"
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    url = f"{args.database}?options=-csearch_path%3D{args.schema}"
    settings = Settings(database_url=url)
    bench = _generator()
    as_of = bench.AS_OF
    lines: list[tuple[str, float, int, str, str]] = []  # step, seconds, rows, speed-up, load

    with tempfile.TemporaryDirectory(prefix="doorstep-scale-") as tmp:
        workdir = Path(tmp)
        if not args.reuse:
            folder = args.book or workdir / "book"
            if not (folder / "loans.parquet").exists():
                seconds, counts = timed(
                    lambda: bench.generate(folder, args.loans, args.installments)
                )
                generated = sum(
                    counts[e] for e in ("customers", "loans", "installments", "payments")
                )
                lines.append(("generate", seconds, generated, "", load()))
                print(f"generate: {seconds:.1f} s, load {load()}", flush=True)
            fresh_schema(args.database, args.schema)
            engine = make_engine(url)
            seconds, ingested = timed(lambda: ingest(engine, folder, settings))
            lines.append(("ingest (COPY staging)", seconds, ingested, "", load()))
            print(f"ingest: {seconds:.1f} s, load {load()}", flush=True)
        else:
            engine = make_engine(url)
        rows = rows_read(engine)
        clear_date(engine, as_of)
        seconds, whole = timed(lambda: in_process(engine, settings, as_of))
        baseline = seconds
        lines.append(("delinquency in-process", seconds, rows, "1.00", load()))
        print(f"in-process: {seconds:.1f} s, load {load()}", flush=True)
        dispatch = via_broker(Broker(args.broker, args.broker, QUEUE, timeout=3600))
        for n in workers:
            clear_date(engine, as_of)
            process = start_worker(url, args.broker, n, workdir / f"worker{n}.log")
            try:
                seconds, merged = timed(lambda: run_partitioned(as_of, args.partitions, dispatch))
            finally:
                stop_worker(process)
            assert (merged.loans, merged.overdue_loans, merged.by_bucket) == (
                whole.loans,
                whole.overdue_loans,
                whole.by_bucket,
            ), "partitioned figures differ from the in-process run"
            name = f"delinquency, {n} worker process{'es' if n > 1 else ''}"
            lines.append((name, seconds, rows, f"{baseline / seconds:.2f}", load()))
            print(f"{name}: {seconds:.1f} s, load {load()}", flush=True)
        engine.dispose()
    if not args.keep:
        admin = make_engine(args.database)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
        admin.dispose()

    print(
        f"\ndoorstep scale benchmark: {args.loans:,} loans × {args.installments} installments"
        f" on PostgreSQL, {args.partitions} partitions, as of {as_of}, {os.cpu_count()} CPUs"
    )
    print(f"batch: {whole.loans:,} snapshots, {whole.overdue_loans:,} overdue (same in every run)")
    header = ("step", "seconds", "rows", "rows/s", "speed-up", "load")
    table = [header] + [
        (s, f"{t:.1f}", f"{r:,}", f"{r / t:,.0f}", up, avg) for s, t, r, up, avg in lines
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print(
        "\nrows: loans + installments + payments the step reads; speed-up: in-process seconds"
        " / this run's seconds; load: 1-minute load average when the step ended"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
