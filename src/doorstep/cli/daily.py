"""`doorstep batch run`: the whole day, resumable."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.main import (
    AsOf,
    batch_app,
    console,
    fail,
    parse_day,
    progress_bar,
    ready_engine,
    settings,
)
from doorstep.domain.errors import DoorstepError
from doorstep.jobs.relay import relayed
from doorstep.services.batch.daily import StepOutcome, run_day


@batch_app.command("run")
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
