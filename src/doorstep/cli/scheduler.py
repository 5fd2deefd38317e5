"""The built-in scheduler of `doorstep serve --with-scheduler`: the daily batch for the
business day at `DOORSTEP_BATCH_TIME` (business zone), in a background thread of the web
process. It runs `run_day`, so the day's lock applies: when another process (a second
server, `doorstep batch run`) holds the day, this run refuses cleanly and logs it. With a
broker configured the heavy steps (delinquency and scoring partitions, webhook
deliveries) are enqueued for the workers and this thread waits for every partition,
logging each step's outcome as `doorstep batch run` prints it."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.domain.errors import BatchAlreadyRunning
from doorstep.services.batch.daily import StepOutcome, run_day

JOB_ID = "daily-batch"
log = logging.getLogger(__name__)


def daily_batch(engine: Engine, settings: Settings) -> list[StepOutcome]:
    """The scheduled job: today's batch (business zone); [] when another run holds it."""
    day = datetime.now(settings.zone).date()
    try:
        outcomes = run_day(engine, settings, day)
    except BatchAlreadyRunning:
        log.warning("daily batch for %s: already running elsewhere, not started", day)
        return []
    log.info("daily batch for %s: %s", day, ", ".join(f"{o.name} {o.state}" for o in outcomes))
    return outcomes


def build_scheduler(engine: Engine, settings: Settings) -> BackgroundScheduler:
    """A scheduler (not started) with the daily batch at the configured local time."""
    scheduler = BackgroundScheduler(timezone=settings.zone)
    scheduler.add_job(
        daily_batch,
        CronTrigger(
            hour=settings.batch_time.hour,
            minute=settings.batch_time.minute,
            timezone=settings.zone,
        ),
        args=(engine, settings),
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,  # a server that was down at the hour still runs within one
    )
    return scheduler
