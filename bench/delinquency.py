"""Benchmark: ingest a synthetic book of N loans and run the delinquency batch over it.

    python bench/delinquency.py [--loans 1000000] [--installments 12] [--workdir DIR]
                                [--keep] [--json FILE] [--steps generate,ingest,batch,baseline]

Steps, each in its own child process (multiprocessing "spawn") so that its time and peak
memory are its own:

1. generate  the book as Parquet (customers, loans, installments, payments), vectorised
             with numpy and polars; every row valid under the ingest contracts;
2. ingest    the files into a fresh SQLite database through `ingest_files`;
3. batch     `run_delinquency` over the whole book on the as-of date;
4. baseline  DuckDB reading the same Parquet files once (count and sum of payments,
             count of installments): the floor that any reader of those rows pays.

Peak memory is the `ru_maxrss` of the step's own process (`getrusage(RUSAGE_SELF)` read in
the child when the step ends): the high-water resident set of that process, interpreter
and imports included.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

AS_OF = date(2025, 6, 30)
FIRST_MONTH = (2022, 1)  # loans are disbursed from this month ...
LAST_MONTH = (2025, 5)  # ... to this one, on day 1-28
GOOD_SHARE = 0.88  # pay every due installment in full, on time
SPLIT_SHARE = 0.08  # of full payments made in two parts
REGIONS = (
    110105, 110108, 310104, 310115, 440305, 440106, 330106, 320102,
    510107, 420106, 610113, 500103, 370202, 350203, 430104, 410105,
)  # fmt: skip
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国文斌宇浩")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = list("10X98765432")
RATES = ("0.072", "0.12", "0.18", "0.2388")
RATE_PER_10K = (720, 1200, 1800, 2388)
CHANNELS = ("alipay", "wechat", "bank_transfer", "unionpay")
STEPS = ("generate", "ingest", "batch", "baseline")


# --- generation ---------------------------------------------------------------------------


def _yuan(fen: Any) -> Any:
    """Integer fen (polars expression) -> 'yuan.ff' text."""
    import polars as pl

    return pl.concat_str(
        (fen // 100).cast(pl.Utf8), pl.lit("."), (fen % 100).cast(pl.Utf8).str.zfill(2)
    )


def _month_day(month_index: Any, day: Any) -> Any:
    """numpy datetime64[D] of `day` (1-28) in month `year * 12 + month - 1`."""
    return (month_index - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]") + (
        day - 1
    ).astype("timedelta64[D]")


def generate(folder: Path, loans: int, terms: int, seed: int = 20250630) -> dict[str, int]:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = loans
    number = np.arange(1, n + 1)
    customer_id = pl.Series("customer_id", number).cast(pl.Utf8).str.zfill(8)
    customer_id = ("C" + customer_id).alias("customer_id")
    loan_id = ("L" + pl.Series(number).cast(pl.Utf8).str.zfill(8)).alias("loan_id")

    # customers: a GB 11643 national ID (region, birth date, sequence, check digit)
    birth_days = rng.integers(
        (date(1965, 1, 1) - date(1970, 1, 1)).days,
        (date(2002, 12, 31) - date(1970, 1, 1)).days,
        n,
    )
    birth = pl.Series("birth_date", birth_days.astype("datetime64[D]"))
    ymd = (
        birth.dt.year().to_numpy().astype(np.int64) * 10_000
        + birth.dt.month().to_numpy().astype(np.int64) * 100
        + birth.dt.day().to_numpy().astype(np.int64)
    )
    region = np.asarray(REGIONS, dtype=np.int64)[rng.integers(0, len(REGIONS), n)]
    sequence = rng.integers(1, 1000, n, dtype=np.int64)
    first17 = region * 10**11 + ymd * 10**3 + sequence
    weighted = np.zeros(n, dtype=np.int64)
    for position, weight in enumerate(ID_WEIGHTS):
        weighted += (first17 // 10 ** (16 - position)) % 10 * weight
    check = pl.Series(ID_CHECK).gather(weighted % 11)
    id_number = pl.Series(first17).cast(pl.Utf8).str.zfill(17) + check
    gender = np.where(sequence % 2 == 1, "M", "F")  # the 17th digit is the sequence's last
    given_two = rng.random(n) < 0.6
    name = (
        pl.Series(SURNAMES).gather(rng.integers(0, len(SURNAMES), n))
        + pl.Series(GIVEN).gather(rng.integers(0, len(GIVEN), n))
        + pl.Series(np.where(given_two, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], ""))
    )
    customers = pl.DataFrame(
        {
            "customer_id": customer_id,
            "name": name,
            "id_number": id_number,
            "gender": gender,
            "birth_date": birth,
            "employer": pl.Series(np.where(rng.random(n) < 0.7, "示例科技有限公司", "")),
        }
    ).with_columns(pl.col("employer").replace("", None))
    customers.write_parquet(folder / "customers.parquet")
    del customers, name, id_number

    # loans: disbursed on day 1-28 of a month, first due a month later
    first_month = FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1
    last_month = LAST_MONTH[0] * 12 + LAST_MONTH[1] - 1
    month = rng.integers(first_month, last_month + 1, n)
    day = rng.integers(1, 29, n)
    principal = rng.integers(1_000_00, 50_000_00, n, endpoint=True)
    rate_choice = rng.integers(0, len(RATES), n)
    loans_frame = pl.DataFrame(
        {
            "loan_id": loan_id,
            "customer_id": customer_id,
            "product": "consumer_cash",
            "principal": principal,
            "annual_rate": pl.Series(RATES).gather(rate_choice),
            "term_months": terms,
            "method": "equal_installment",
            "disbursed_on": _month_day(month, day),
            "first_due_on": _month_day(month + 1, day),
            "penalty_rate_daily": "0.0005",
        }
    ).with_columns(_yuan(pl.col("principal")).alias("principal"))
    loans_frame.write_parquet(folder / "loans.parquet")
    del loans_frame

    # installments: equal principal parts, the remainder on the last; monthly interest on
    # the balance, rounded half up to the fen
    seq = np.tile(np.arange(1, terms + 1, dtype=np.int64), n)
    owner = np.repeat(np.arange(n), terms)
    part = principal // terms
    principal_due = part[owner]
    last = seq == terms
    principal_due[last] = (principal - part * (terms - 1))[owner[last]]
    balance = principal[owner] - part[owner] * (seq - 1)
    interest_due = (balance * np.asarray(RATE_PER_10K)[rate_choice][owner] + 60_000) // 120_000
    due_on = _month_day(month[owner] + seq, day[owner])
    installments = pl.DataFrame(
        {
            "loan_id": loan_id.gather(owner),
            "seq": seq,
            "due_on": due_on,
            "principal_due": principal_due,
            "interest_due": interest_due,
            "fee_due": "0.00",
        }
    ).with_columns(
        _yuan(pl.col("principal_due")).alias("principal_due"),
        _yuan(pl.col("interest_due")).alias("interest_due"),
    )
    installments.write_parquet(folder / "installments.parquet")
    del installments

    # payments: 88% pay every due installment on time (some in two parts); the others
    # pay in full up to installment `stop`, then either stop or pay a share of each one
    good = rng.random(n) < GOOD_SHARE
    stop = rng.integers(1, terms + 1, n)
    partial = rng.random(n) < 0.5
    share = rng.integers(20, 81, n)
    amount_due = principal_due + interest_due
    due_day = due_on.astype(np.int64)
    as_of_day = (AS_OF - date(1970, 1, 1)).days
    full = good[owner] | (seq < stop[owner])
    paying = (due_day <= as_of_day) & (full | partial[owner])
    amount = np.where(full, amount_due, np.maximum(amount_due * share[owner] // 100, 1))
    early = rng.integers(0, 4, owner.size)
    rows = np.flatnonzero(paying)
    split = rows[full[rows] & (rng.random(rows.size) < SPLIT_SHARE)]
    first_part = amount[split] * rng.integers(30, 71, split.size) // 100
    pay_loan = np.concatenate([owner[rows], owner[split]])
    pay_day = np.concatenate([due_day[rows] - early[rows], due_day[split] - early[split] - 7])
    pay_amount = np.concatenate([amount[rows], first_part])
    pay_amount[np.searchsorted(rows, split)] -= first_part
    order = np.lexsort((pay_day, pay_loan))
    count = order.size
    payments = pl.DataFrame(
        {
            "payment_id": "P" + pl.Series(np.arange(1, count + 1)).cast(pl.Utf8).str.zfill(9),
            "loan_id": loan_id.gather(pay_loan[order]),
            "paid_on": pay_day[order].astype("datetime64[D]"),
            "amount": pay_amount[order],
            "channel": pl.Series(CHANNELS).gather(rng.integers(0, len(CHANNELS), count)),
        }
    ).with_columns(_yuan(pl.col("amount")).alias("amount"))
    payments.write_parquet(folder / "payments.parquet")
    overdue_loans = int(np.unique(owner[(due_day < as_of_day) & ~full]).size)
    return {
        "customers": n,
        "loans": n,
        "installments": n * terms,
        "payments": count,
        "loans_with_unpaid_due_installment": overdue_loans,
    }


# --- the timed steps (each runs in a child process) ----------------------------------------


def step_generate(workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    counts = generate(workdir / "book", options["loans"], options["installments"])
    rows = sum(counts[e] for e in ("customers", "loans", "installments", "payments"))
    return {"rows": rows, "counts": counts}


def _engine(workdir: Path) -> Any:
    from doorstep.store.db import make_engine

    return make_engine(f"sqlite:///{workdir / 'doorstep.db'}")


def step_ingest(workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    from doorstep.config import Settings
    from doorstep.integrations.crypto import FernetCipher, HmacHasher, new_data_key
    from doorstep.services.ingest import ingest_files
    from doorstep.store import migrate
    from doorstep.store.db import transaction

    database = workdir / "doorstep.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    engine = _engine(workdir)
    migrate.upgrade(engine)
    settings = Settings()
    # throwaway keys for the personal data (names, national IDs) that ingestion encrypts
    cipher, hasher = FernetCipher([new_data_key()]), HmacHasher(new_data_key())
    with transaction(engine) as session:
        report = ingest_files(
            session,
            [workdir / "book"],
            zone=settings.zone,
            reports_dir=workdir / "reports",
            cipher=cipher,
            hasher=hasher,
        )
    engine.dispose()
    rows = sum(f["rows"] for f in report.files)
    return {"rows": rows, "counts": report.counts}


def step_batch(workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from doorstep.config import Settings
    from doorstep.services.delinquency import run_delinquency
    from doorstep.store.db import transaction
    from doorstep.store.models import Installment, Payment

    engine = _engine(workdir)
    settings = Settings()
    with transaction(engine) as session:
        summary = run_delinquency(
            session, AS_OF, waterfall=settings.waterfall_rule, buckets=settings.bucket_scheme
        )
    elapsed_marker = time.perf_counter()
    with engine.connect() as connection:  # not timed: how many rows the batch read
        rows = summary.loans + sum(
            connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Installment, Payment)
        )
    engine.dispose()
    return {
        "rows": rows,
        "untimed_after": elapsed_marker,
        "loans": summary.loans,
        "overdue_loans": summary.overdue_loans,
        "by_bucket": summary.by_bucket,
    }


def step_baseline(workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    book = workdir / "book"
    connection = duckdb.connect()
    payments, total = connection.execute(
        "select count(*), sum(cast(amount as decimal(18,2))) "
        f"from read_parquet('{book / 'payments.parquet'}')"
    ).fetchone()
    (installments,) = connection.execute(
        f"select count(*) from read_parquet('{book / 'installments.parquet'}')"
    ).fetchone()
    connection.close()
    return {"rows": payments + installments, "payments_total_yuan": str(total)}


PRELOAD = {  # imported before the clock starts: a step is timed, not its imports
    "generate": ("numpy", "polars"),
    "ingest": ("doorstep.services.ingest", "doorstep.store.migrate", "doorstep.config"),
    "batch": ("doorstep.services.delinquency", "doorstep.store.db", "doorstep.config"),
    "baseline": ("duckdb",),
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(name: str, workdir: str, options: dict[str, Any], queue: Any) -> None:
    try:
        for module in PRELOAD[name]:
            importlib.import_module(module)
        function = globals()[f"step_{name}"]
        cpu, started = _cpu_seconds(), time.perf_counter()
        result = function(Path(workdir), options)
        ended = result.pop("untimed_after", time.perf_counter())
        result["seconds"] = ended - started
        result["cpu_seconds"] = _cpu_seconds() - cpu
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["load_average"] = os.getloadavg()[0]
        queue.put(("ok", result))
    except BaseException as exc:
        import traceback

        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        raise


def run_step(name: str, workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, str(workdir), options, queue))
    print(f"... {name}", file=sys.stderr, flush=True)
    process.start()
    status, result = queue.get()
    process.join()
    if status != "ok":
        raise SystemExit(f"step {name} failed:\n{result}")
    return result


# --- report -----------------------------------------------------------------------------------


def table(loans: int, results: dict[str, dict[str, Any]]) -> str:
    baseline = results.get("baseline", {}).get("seconds")
    header = (
        "step",
        "seconds",
        "CPU s",
        "loans/s",
        "rows",
        "rows/s",
        "peak RSS MiB",
        "÷ baseline",
        "load",
    )
    lines = [header]
    for name, r in results.items():
        seconds = r["seconds"]
        lines.append(
            (
                name,
                f"{seconds:,.2f}",
                f"{r['cpu_seconds']:,.2f}",
                f"{loans / seconds:,.0f}",
                f"{r['rows']:,}",
                f"{r['rows'] / seconds:,.0f}",
                f"{r['peak_rss_mib']:,.0f}",
                f"{seconds / baseline:,.1f}×" if baseline else "-",
                f"{r['load_average']:.1f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join(cells))
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--installments", type=int, default=12)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the files and database")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated subset of %(default)s; skipped ones reuse what is in --workdir",
    )
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    if set(steps) != set(STEPS) and args.workdir is None:
        parser.error("--steps without every step needs --workdir holding the earlier results")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doorstep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    options = {
        "loans": args.loans,
        "installments": args.installments,
    }
    try:
        for name in STEPS:
            if name in steps:
                results[name] = run_step(name, workdir, options)
    finally:
        if not args.keep:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
            elif set(steps) == set(STEPS):
                shutil.rmtree(workdir / "book", ignore_errors=True)
                shutil.rmtree(workdir / "reports", ignore_errors=True)
                for suffix in ("", "-wal", "-shm"):
                    (workdir / f"doorstep.db{suffix}").unlink(missing_ok=True)

    print(
        f"doorstep delinquency benchmark: {args.loans:,} loans × {args.installments} "
        f"installments, as of {AS_OF}, SQLite in {workdir}" + ("" if args.keep else " (removed)")
    )
    if "generate" in results:
        counts = results["generate"]["counts"]
        print(
            f"book: {counts['payments']:,} payments "
            f"({counts['payments'] / counts['loans']:.1f} per loan), "
            f"{counts['loans_with_unpaid_due_installment']:,} loans with an unpaid due installment"
        )
    if "batch" in results:
        r = results["batch"]
        print(f"batch: {r['loans']:,} snapshots, {r['overdue_loans']:,} overdue")
    print()
    print(table(args.loans, results))
    print(
        "\nseconds: wall clock of the step in its own process, imports excluded; CPU s: user +"
        " system time of that process over the step (all its threads)\npeak RSS: ru_maxrss of"
        " the step's own spawned process (getrusage RUSAGE_SELF read in the child at the end),"
        " interpreter and imports included\nload: 1-minute load average of the machine when"
        f" the step ended ({os.cpu_count()} CPUs)"
    )
    if args.json:
        document = {
            "loans": args.loans,
            "installments_per_loan": args.installments,
            "as_of": AS_OF.isoformat(),
            "peak_memory": "ru_maxrss of the step's own process (RUSAGE_SELF), MiB",
            "cpus": os.cpu_count(),
            "steps": {
                name: {
                    **r,
                    "loans_per_second": args.loans / r["seconds"],
                    "rows_per_second": r["rows"] / r["seconds"],
                    "ratio_to_baseline": (
                        r["seconds"] / results["baseline"]["seconds"]
                        if "baseline" in results
                        else None
                    ),
                }
                for name, r in results.items()
            },
        }
        args.json.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
