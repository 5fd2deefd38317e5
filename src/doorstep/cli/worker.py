"""`doorstep worker`: a Celery worker for the configured broker, in this process."""

from __future__ import annotations

from typing import Annotated

import typer

from doorstep.cli.common import fail, ready_engine, settings
from doorstep.jobs.app import make_app


def worker(
    concurrency: Annotated[
        int, typer.Option(help="worker processes (one task each at a time)")
    ] = 2,
    queues: Annotated[
        str, typer.Option(help="queues to consume, comma-separated (default DOORSTEP_TASK_QUEUE)")
    ] = "",
    hostname: Annotated[str, typer.Option(help="node name, e.g. w1@%h")] = "doorstep@%h",
    loglevel: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, …")] = "INFO",
) -> None:
    """Run tasks from the broker (DOORSTEP_BROKER_URL): delinquency and scoring partitions,
    city plans, dossiers, webhook deliveries. Stop with Ctrl-C (finishes the running tasks
    first)."""
    config = settings()
    if not config.broker_url:
        raise fail("no broker configured: set DOORSTEP_BROKER_URL (redis://… or amqp://…)")
    ready_engine(config).dispose()  # the schema is current before any task runs
    make_app(config).worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues or config.task_queue}",
            f"--hostname={hostname}",
            f"--loglevel={loglevel}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )
