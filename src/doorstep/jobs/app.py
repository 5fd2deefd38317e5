"""The Celery app, built from settings (`DOORSTEP_BROKER_URL`, `DOORSTEP_RESULT_BACKEND`)."""

from __future__ import annotations

from celery import Celery

from doorstep.config import Settings
from doorstep.domain.ports import Clock, SystemClock
from doorstep.jobs import tasks


def make_app(settings: Settings, clock: Clock | None = None) -> Celery:
    """A Celery app for the configured broker with every doorstep task registered; its
    tasks stamp what they write with `clock` (None: the system clock).

    Tasks are acknowledged after they finish (`acks_late`) and requeued when the worker
    process running them dies, so a lost worker's task runs again elsewhere; a worker
    takes one task at a time (a partition is minutes of work, not milliseconds).
    """
    if not settings.broker_url:
        raise ValueError("no broker configured: set DOORSTEP_BROKER_URL")
    app = Celery("doorstep", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.resolved_result_backend,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.task_queue,  # the worker consumes this queue only
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        result_expires=24 * 3600,
        # Redis: an unacknowledged task comes back after this long if its whole worker
        # (not only the child process) vanished; longer than the longest partition
        broker_transport_options={"visibility_timeout": int(settings.task_timeout_seconds) + 60},
        timezone=settings.timezone,
    )
    tasks.register(app, settings, clock or SystemClock())
    return app
