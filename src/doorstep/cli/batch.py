"""`doorstep batch`: the day's batch as a whole (`run`, resumable) and each of its jobs on
its own: delinquency, case selection, promises, check-out alerts, the evidence check."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from doorstep.cli.common import (
    AsOf,
    console,
    fail,
    parse_day,
    progress_bar,
    ready_engine,
    settings,
)
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import format_yuan, parse_yuan
from doorstep.domain.ports import SystemClock
from doorstep.domain.selection import SelectionPolicy, value_terms
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.jobs.relay import relayed
from doorstep.services.batch.daily import StepOutcome, run_day
from doorstep.services.cases import SelectionReport, select_cases
from doorstep.services.delinquency import DelinquencySummary, run_delinquency
from doorstep.services.repayment.promises import judge_promises
from doorstep.services.visits import orphan_evidence, verify_evidence
from doorstep.services.visits.alerts import raise_overdue_checkouts
from doorstep.store.db import transaction
from doorstep.store.repositories.batch import capacity_by_city

app = typer.Typer(help="Batch jobs.", no_args_is_help=True)


@app.command("delinquency")
def batch_delinquency(as_of: AsOf) -> None:
    """Compute and store every loan's delinquency snapshot on the as-of date."""
    config = settings()
    run_batch(ready_engine(config), config, parse_day(as_of))


def run_batch(engine: Engine, config: Settings, day: date) -> DelinquencySummary:
    """The delinquency batch with a progress bar, then its summary table."""
    with progress_bar() as progress, transaction(engine) as session:
        summary = run_delinquency(
            session,
            day,
            waterfall=config.waterfall_rule,
            buckets=config.bucket_scheme,
            progress=progress,
        )
    print_delinquency(summary, config.bucket_scheme.names)
    return summary


def print_delinquency(summary: DelinquencySummary, bucket_order: list[str]) -> None:
    table = Table(
        title=f"delinquency on {summary.as_of}: {summary.loans} loans, "
        f"{summary.overdue_loans} overdue"
    )
    table.add_column("bucket")
    table.add_column("loans", justify="right")
    table.add_column("overdue (yuan)", justify="right")
    for bucket in bucket_order:
        entry = summary.by_bucket.get(bucket, {"loans": 0, "overdue": 0})
        table.add_row(bucket, str(entry["loans"]), format_yuan(entry["overdue"]))
    console.print(table)


@app.command("select")
def batch_select(
    as_of: AsOf,
    teams: Annotated[int, typer.Option(help="teams in the field")] = 20,
    visits_per_team: Annotated[int, typer.Option(help="visits one team makes a day")] = 6,
    min_dpd: Annotated[int, typer.Option()] = 31,
    min_overdue: Annotated[str, typer.Option(help="yuan")] = "500.00",
) -> None:
    """Open cases for the customers the policy selects; the best go ready within each
    city's teams' capacity (without teams: `teams × visits` in one pool)."""
    config = settings()
    uplift_bp, visit_cost = value_terms(config.visit_uplift, config.visit_cost)
    policy = SelectionPolicy(
        min_dpd=min_dpd,
        min_overdue=parse_yuan(min_overdue),
        uplift_bp=uplift_bp,
        visit_cost=visit_cost,
    )
    try:
        with transaction(ready_engine(config)) as session:
            report = select_cases(
                session,
                SYSTEM,
                parse_day(as_of),
                policy=policy,
                capacity=capacity_by_city(session) or teams * visits_per_team,
                buckets=config.bucket_scheme,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    print_selection(report)


def print_selection(report: SelectionReport) -> None:
    ranked = (
        f"expected value (model version #{report.model_version_id})"
        if report.ranked_by == "expected_value"
        else "priority (overdue x bucket weight)"
    )
    table = Table(title=f"selection on {report.as_of}, ranked by {ranked}")
    table.add_column("figure")
    table.add_column("count", justify="right")
    for name in (
        "overdue_customers",
        "eligible",
        "opened",
        "made_ready",
        "over_capacity",
        "skip_trace",
        "updated",
        "cancelled_cured",
    ):
        table.add_row(name.replace("_", " "), str(getattr(report, name)))
    for rule, count in sorted(report.failed_rules.items()):
        table.add_row(f"not selected: {rule}", str(count))
    console.print(table)


@app.command("run")
def batch_run(
    as_of: AsOf,
    force: Annotated[bool, typer.Option(help="redo steps already done for the day")] = False,
) -> None:
    """Run the day's batch (delinquency → selection → …); a rerun finishes what a crash
    left, and skips what is done."""
    config = settings()
    if config.broker_url:  # a fleet: heavy steps are enqueued and waited for
        console.print(
            f"broker configured: delinquency and scoring run as "
            f"{config.delinquency_partitions} partitions on the workers, deliveries are "
            "published to them; this run waits for every partition"
        )
    table = Table(title=f"batch for {as_of}")
    for column in ("step", "state", "seconds", "counts"):
        table.add_column(column)

    def show(outcome: StepOutcome) -> None:
        counts = ", ".join(f"{k}={v}" for k, v in outcome.counts.items())
        table.add_row(outcome.name, outcome.state, f"{outcome.seconds:.1f}", counts)

    try:
        with progress_bar() as progress:
            run_day(
                relayed(ready_engine(config), config),
                config,
                parse_day(as_of),
                force=force,
                progress=progress,
                on_step=show,
            )
    except DoorstepError as exc:
        console.print(table)
        raise fail(exc.message) from None
    console.print(table)


@app.command("promises")
def batch_promises(as_of: AsOf) -> None:
    """Judge open promises to pay against the payments (kept, partly kept, broken)."""
    config = settings()
    day = parse_day(as_of)
    with transaction(ready_engine(config)) as session:
        run = judge_promises(
            session, day, now=SystemClock().now(), grace_days=config.promise_grace_days
        )
    judged = ", ".join(f"{k} {v}" for k, v in run.judged.items())
    console.print(f"promises on {day}: {judged}; still open {run.still_open}")


@app.command("alerts")
def batch_alerts() -> None:
    """Raise an alert for each visit still checked in after DOORSTEP_VISIT_CHECKOUT_MINUTES
    (once per visit; the supervisor's /alerts page does the same when opened)."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        raised = raise_overdue_checkouts(
            session, datetime.now(UTC), timedelta(minutes=config.visit_checkout_minutes)
        )
        for alert in raised:
            console.print(f"alert {alert.id}: case {alert.case_id}, team {alert.team_id}")
    console.print(f"{len(raised)} overdue check-out alert(s) raised")


@app.command("evidence")
def batch_evidence(
    remove_orphans: Annotated[
        bool,
        typer.Option(
            "--remove-orphans",
            help="delete the files no evidence row names (older than an hour; audited)",
        ),
    ] = False,
) -> None:
    """Check every evidence file under var_dir/evidence: present, still hashing to its name,
    and named in the audit trail of its visit; report the files no row names (orphans)
    and, with --remove-orphans, delete them. Exit 1 at any problem or orphan left."""
    config = settings()
    store = LocalEvidenceStore(config.var_dir / "evidence")
    with transaction(ready_engine(config)) as session:
        problems = verify_evidence(session, store)
        orphans = orphan_evidence(
            session, store, SYSTEM, now=SystemClock().now(), remove=remove_orphans
        )
    for p in problems:
        console.print(f"evidence {p.evidence_id} {p.sha256}: {p.problem}")
    for o in orphans:
        what = "removed" if o.removed else "kept"
        console.print(f"orphan {o.sha256}: no evidence row names it ({what})")
    left = [o for o in orphans if not o.removed]
    if problems or left:
        raise fail(f"{len(problems)} evidence problem(s), {len(left)} orphan file(s) left")
    removed = f"; {len(orphans)} orphan file(s) removed" if orphans else ""
    console.print(f"every evidence file matches its hash and the audit trail{removed}")
