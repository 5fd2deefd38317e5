"""Benchmark: the manager's dashboard over what a 1,000,000-loan book leaves behind.

    python bench/dashboard.py [--cases 100000] [--days 365] [--visits 80000]
                              [--requests 30] [--workdir DIR] [--keep] [--json FILE]

The dashboard never reads the loans themselves: the daily batch aggregates the book
into `book_figures` (one row per day, city and bucket), the field into `field_figures`
(one row per day, city, team, leaning and reason; the days after the last batch are
counted live) and the 30-day outcome of every visit into `visit_outcomes` (summed per
day, city and cohort into `outcome_figures`). So the build writes those tables at the
size such a book gives — a year of daily figures for 8 cities and 8 buckets, 100,000
cases (the overdue tenth of the book), 80,000 visits with verdicts (about 150 teams
over 90 days), 20,000 promises to pay, and their outcomes — using bench/case_list.py's
cases and manager.

Then the real app serves it (own process, uvicorn) and each dashboard query is timed
`--requests` times with httpx, beside the same-run baseline of bench/case_list.py (a
signed-in route running a bare `SELECT ... LIMIT 50`). Target: median < 500 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import case_list  # bench/case_list.py: cases, manager, server, sign-in, timing

TARGET_MS = 500.0
QUERIES = [
    ("manager, 90 days", "/dashboard?until={day}"),
    ("manager, one city", "/dashboard?until={day}&city=上海市"),
    ("manager, a year", "/dashboard?until={day}&days=365"),
]
BUCKETS = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"]
REASONS = ["job_loss", "medical", "income_drop", "poor_money_management", "business_failure",
           "family_event", "dispute", "willful_evasion", "other"]  # fmt: skip


def build_field(db: Path, days: int, visits: int, seed: int = 7) -> dict[str, Any]:
    """The dashboard's tables on top of bench/case_list.py's database."""
    import numpy as np
    from sqlalchemy import insert, select

    from doorstep.store.db import make_engine
    from doorstep.store.models import (
        BookFigure,
        Case,
        PromiseToPay,
        RollFigure,
        Team,
        Verdict,
        Visit,
        VisitOutcome,
    )
    from doorstep.store.repositories import figures

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = make_engine(f"sqlite:///{db}")
    day = case_list.AS_OF
    cities = list(case_list.CITIES)
    with engine.begin() as connection:
        book = []
        for n in range(days):
            as_of = day - timedelta(days=n)
            for city in cities:
                for b, bucket in enumerate(BUCKETS):
                    loans = int(125_000 * case_list.CITIES[city][0] / (1 + 3 * b))
                    book.append({"as_of": as_of, "city": city, "bucket": bucket, "loans": loans,
                                 "overdue": 0 if b == 0 else loans * (150_000 + 90_000 * b),
                                 "outstanding": loans * 3_000_000})  # fmt: skip
        connection.execute(insert(BookFigure), book)
        rolls = [{"from_as_of": day - timedelta(days=30), "to_as_of": day, "from_bucket": a,
                  "to_bucket": b, "loans": int(rng.integers(10, 5000)), "balance": 1}
                 for a in BUCKETS for b in BUCKETS]  # fmt: skip
        connection.execute(insert(RollFigure), rolls)
        connection.execute(insert(Team), [
            {"name": f"T{n:03d}", "city": cities[n % len(cities)], "max_visits": 6,
             "shift_start_minute": 480, "shift_end_minute": 1260} for n in range(150)])  # fmt: skip
        team_ids = list(connection.scalars(select(Team.id)))
        cases = connection.execute(
            select(Case.id, Case.customer_id, Case.city).where(Case.city.is_not(None)).limit(visits)
        ).all()
        start = datetime.combine(day - timedelta(days=90), day_time(9), tzinfo=UTC)
        rows, verdicts, promises, outcomes = [], [], [], []
        for n, (case_id, customer, city) in enumerate(cases):
            at = start + timedelta(days=int(rng.integers(0, 90)), minutes=int(rng.integers(0, 600)))
            rows.append({"id": n + 1, "case_id": case_id, "team_id": team_ids[n % len(team_ids)],
                         "verifier_ids": [1, 2], "state": "submitted", "checked_in_at": at,
                         "flags": ["far_from_address"] if n % 23 == 0 else [],
                         "created_at": at, "updated_at": at})  # fmt: skip
            verdicts.append({"case_id": case_id, "visit_id": n + 1, "reached": n % 3 != 0,
                             "address_status": "valid" if n % 7 else "moved",
                             "primary_reason": REASONS[n % len(REASONS)], "reasons": [],
                             "hardship_or_evasion": ("hardship", "evasion", "unclear")[n % 3],
                             "next_step": "repayment_plan", "vulnerable": False,
                             "created_at": at, "updated_at": at})  # fmt: skip
            if n % 4 == 0:
                promises.append({"case_id": case_id, "customer_id": customer, "visit_id": n + 1,
                                 "amount": 100_000, "due_on": at.date() + timedelta(days=7),
                                 "status": ("kept", "partly_kept", "broken", "open")[n % 16 // 4],
                                 "paid": 0, "created_at": at, "updated_at": at})  # fmt: skip
            outcomes.append({"day": at.date(), "customer_id": customer,
                             "cohort": "holdout" if n % 20 == 0 else "visited", "city": city,
                             "cured": n % 5 == 0, "recovered": int(rng.integers(0, 500_000)),
                             "visits": 1, "travel_m": int(rng.integers(500, 9000))})  # fmt: skip
        for table, data in ((Visit, rows), (Verdict, verdicts), (PromiseToPay, promises),
                            (VisitOutcome, outcomes)):  # fmt: skip
            for chunk in range(0, len(data), 20_000):
                connection.execute(insert(table), data[chunk : chunk + 20_000])
        # the batch's figures step: outcomes summed per day, and its first run writes
        # every finished day's field rows
        figures.roll_up_outcomes(connection, start.date(), day)
        step_started = time.perf_counter()
        field_rows = figures.write_field_figures(connection, day, ZoneInfo("Asia/Shanghai"))
        step_seconds = time.perf_counter() - step_started
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"book_rows": len(book), "visits": len(rows), "promises": len(promises),
            "outcomes": len(outcomes), "field_rows": field_rows, "field_step_s": step_seconds,
            "seconds": time.perf_counter() - started}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--visits", type=int, default=80_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import httpx

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doorstep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "dashboard.db"
    try:
        for old in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            old.unlink(missing_ok=True)
        built = case_list.build(db, args.cases)
        field = build_field(db, args.days, args.visits)
        print(
            f"built {built['cases']:,} cases, {field['book_rows']:,} book figures, "
            f"{field['visits']:,} visits with verdicts, {field['promises']:,} promises, "
            f"{field['outcomes']:,} outcomes in {built['seconds'] + field['seconds']:.1f} s; "
            f"the batch's first field-figures run wrote {field['field_rows']:,} rows "
            f"in {field['field_step_s']:.1f} s"
        )
        process, url = case_list.serve(workdir, db)
        results = []
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                case_list.sign_in(client)
                samples, _ = case_list.timed(client, "/bench/baseline", args.requests)
                base = statistics.median(samples)
                for name, path in QUERIES:
                    path = path.format(day=case_list.AS_OF.isoformat())
                    samples, body = case_list.timed(client, path, args.requests)
                    assert body.count('data-testid="chart"') >= 10, "the dashboard lost charts"
                    results.append({"query": name, "path": path,
                                    "median_ms": statistics.median(samples),
                                    "p95_ms": case_list._p95(samples)})  # fmt: skip
        finally:
            process.terminate()
            process.join(10)
        import os

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\n{args.requests} requests each, httpx -> uvicorn (own process); "
            f"load average {load} on {os.cpu_count()} CPUs"
        )
        print(f"{'query':<22} {'median ms':>9} {'p95 ms':>8} {'x base':>7}  target")
        print(f"{'baseline: bare SELECT':<22} {base:>9.1f} {'':>8} {1:>7.1f}")
        ok = True
        for r in results:
            good = r["median_ms"] < TARGET_MS
            ok &= good
            print(
                f"{r['query']:<22} {r['median_ms']:>9.1f} {r['p95_ms']:>8.1f} "
                f"{r['median_ms'] / base:>7.1f}  {'ok' if good else 'MISSED'}"
            )
        print(f"target: median < {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"built": {**built, **field}, "baseline_ms": base, "queries": results}, indent=2
                )
            )
        return 0 if ok else 1
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
