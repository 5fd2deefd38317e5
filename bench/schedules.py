"""Generated schedules: `ingest.generated_schedules` (amounts once per distinct terms,
dates in polars) against the same run's per-loan baseline (`build_schedule` for every
loan, rows appended one by one, as the ingest did before), for a book whose terms repeat
as a lender's do and for one where every principal differs. Each result is checked
equal to the baseline's.

    nice .venv/bin/python bench/schedules.py [--loans 500000]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import polars as pl

from doorstep.domain.schedule import build_schedule
from doorstep.services.ingest import generated_schedules

RATES = ["0.0735", "0.1235", "0.18", "0.2399", "0.36"]
TERMS = [3, 6, 12, 24, 36]
METHODS = ["equal_installment", "equal_principal", "interest_first"]


def book(loans: int, distinct: bool, seed: int = 7) -> pl.DataFrame:
    """Loans with random terms: principals in whole thousands of yuan (terms repeat)
    or any fen amount (nearly every loan's terms differ)."""
    rng = np.random.default_rng(seed)
    principal = (
        rng.integers(100_000, 20_000_000, loans)
        if distinct
        else rng.integers(1, 200, loans) * 100_000
    )
    first_due = np.datetime64("2024-01-01") + rng.integers(0, 730, loans)
    return pl.DataFrame(
        {
            "loan_id": [f"L{n:09d}" for n in range(loans)],
            "principal": principal,
            "annual_rate": rng.choice(RATES, loans),
            "term_months": rng.choice(TERMS, loans),
            "method": rng.choice(METHODS, loans),
            "first_due_on": pl.Series(first_due).cast(pl.Date),
        }
    )


def per_loan(loans: pl.DataFrame) -> pl.DataFrame:
    """The baseline: one `build_schedule` per loan, its rows appended one by one."""
    rows: dict[str, list[object]] = {
        k: [] for k in ("loan_id", "seq", "due_on", "principal_due", "interest_due", "fee_due")
    }
    for loan_id, principal, rate, months, method, first_due in loans.iter_rows():
        for item in build_schedule(principal, Decimal(rate), months, method, first_due):
            rows["loan_id"].append(loan_id)
            rows["seq"].append(item.seq)
            rows["due_on"].append(item.due_on)
            rows["principal_due"].append(item.principal_due)
            rows["interest_due"].append(item.interest_due)
            rows["fee_due"].append(item.fee_due)
    return pl.DataFrame(
        rows,
        schema={
            "loan_id": pl.Utf8,
            "seq": pl.Int64,
            "due_on": pl.Date,
            "principal_due": pl.Int64,
            "interest_due": pl.Int64,
            "fee_due": pl.Int64,
        },
    )


def timed(
    call: Callable[[pl.DataFrame], pl.DataFrame], loans: pl.DataFrame
) -> tuple[float, pl.DataFrame]:
    started = time.perf_counter()
    result = call(loans)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=500_000)
    args = parser.parse_args()
    print(f"{'book':<22}{'loans':>10}{'rows':>12}{'baseline s':>12}{'new s':>9}{'speed-up':>10}")
    for name, distinct in (("repeated terms", False), ("every principal new", True)):
        loans = book(args.loans, distinct)
        base_seconds, expected = timed(per_loan, loans)
        new_seconds, got = timed(generated_schedules, loans)
        assert got.equals(expected), f"{name}: the schedules differ from the baseline's"
        print(
            f"{name:<22}{loans.height:>10,}{got.height:>12,}{base_seconds:>12.1f}"
            f"{new_seconds:>9.1f}{base_seconds / new_seconds:>9.1f}x"
        )
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
