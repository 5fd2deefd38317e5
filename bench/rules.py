"""Conduct-rule engine throughput: `check(contact, ctx, pack)` for a typical call context
on the default (cn) pack, against a same-run baseline (a bare function call returning a
dict lookup), on one core.

    nice .venv/bin/python bench/rules.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from doorstep.domain import rules
from doorstep.domain.rules import Action, Channel, ContactContext, Relation


def _rate(call: Callable[[], object], seconds: float) -> float:
    n, batch = 0, 2000
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            call()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    pack = rules.load("cn")
    us = rules.load("us")
    shanghai, new_york = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")
    cn_ctx = ContactContext(
        at=datetime(2026, 3, 9, 6, 30, tzinfo=UTC),  # 14:30 in Shanghai
        zones=(shanghai,),
        channel=Channel.CALL,
        relation=Relation.DEBTOR,
        connected_calls_today=1,
        dial_attempts_today=2,
    )
    us_ctx = ContactContext(
        at=datetime(2026, 3, 9, 18, 30, tzinfo=UTC),
        zones=(new_york,),
        channel=Channel.CALL,
        calls_last_7_days=3,
        last_conversation_on=date(2026, 2, 20),
    )
    assert rules.check(Action.CONTACT, cn_ctx, pack).outcome is rules.Outcome.ALLOWED
    assert rules.check(Action.CONTACT, us_ctx, us).outcome is rules.Outcome.ALLOWED
    table = {"contact": 1}

    def baseline() -> int:
        return table["contact"]

    base = _rate(baseline, args.seconds)
    cn_rate = _rate(lambda: rules.check(Action.CONTACT, cn_ctx, pack), args.seconds)
    us_rate = _rate(lambda: rules.check(Action.CONTACT, us_ctx, us), args.seconds)
    print(f"baseline (function call + dict lookup): {base:,.0f} calls/s")
    print(
        f"check contact, cn pack ({len(pack.compiled[Action.CONTACT])} rules): "
        f"{cn_rate:,.0f} checks/s ({base / cn_rate:.1f}x the baseline's time per call)"
    )
    print(
        f"check contact, us pack ({len(us.compiled[Action.CONTACT])} rules): "
        f"{us_rate:,.0f} checks/s ({base / us_rate:.1f}x the baseline's time per call)"
    )
    print(f"target 50,000 checks/s: {'met' if min(cn_rate, us_rate) >= 50_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
