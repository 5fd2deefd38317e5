"""The tasks: thin wrappers that open a transaction and call a service.

Each is a plain function first (`run_*`), so the embedded default (no broker) calls the
same code in-process; `register` binds them to a Celery app with their retry policy and
the worker's clock.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.audit import Keyring
from doorstep.domain.ports import Clock
from doorstep.integrations.broker import Broker
from doorstep.integrations.keys import audit_keyring, personal_data_keys
from doorstep.jobs import relay
from doorstep.services import outbox, scoring
from doorstep.services.batch import daily
from doorstep.services.conduct import audit
from doorstep.services.delinquency import PARTITION_TASK, run_partition
from doorstep.services.lender import dossier, feedback
from doorstep.services.repayment import offers
from doorstep.services.visit_plans import PlanConfig, run_plan
from doorstep.store.db import make_engine, transaction
from doorstep.store.repositories import plans as plans_repo

# transient trouble worth a retry; anything else (a poisoned partition) fails at once
TRANSIENT = (OperationalError, DBAPIError, ConnectionError, TimeoutError)


def _engine(settings: Settings) -> Engine:
    """One engine (and connection pool) per worker process and database; with a broker
    configured it relays the outbox deliveries its transactions commit (`jobs.relay`);
    its sessions sign audit events with the configured audit key."""
    return _engine_for(
        settings.resolved_database_url, Broker.from_settings(settings), audit_keyring(settings)
    )


@cache
def _engine_for(url: str, broker: Broker | None, keys: Keyring) -> Engine:
    engine = make_engine(url)
    audit.use_keys(engine, keys)  # before the relay's engine copies the options
    return relay.with_broker(engine, broker)


def run_delinquency_partition(
    settings: Settings, clock: Clock, as_of: str, partition: int, partitions: int
) -> dict[str, Any]:
    """Compute and store one partition's snapshots; returns its figures."""
    with transaction(_engine(settings)) as session:
        summary = run_partition(
            session,
            date.fromisoformat(as_of),
            partition,
            partitions,
            waterfall=settings.waterfall_rule,
            buckets=settings.bucket_scheme,
            now=clock.now(),
        )
    return {**summary.as_dict(), "partition": partition}


def run_scoring_partition(
    settings: Settings,
    clock: Clock,
    as_of: str,
    partition: int,
    partitions: int,
    model_version_id: int,
) -> dict[str, Any]:
    """Score one partition's customers with the given model version; returns its figures."""
    with transaction(_engine(settings)) as session:
        return scoring.apply_partition(
            session,
            date.fromisoformat(as_of),
            partition,
            partitions,
            model_version_id,
            waterfall=settings.waterfall_rule,
            buckets=settings.bucket_scheme,
            clock=clock,
        )


def run_deliver_webhooks(
    settings: Settings, clock: Clock, batch: int = 50, delivery_ids: list[int] | None = None
) -> dict[str, int]:
    """One delivery pass (of the given deliveries only, when the relay names them);
    deliveries are rows per (event, endpoint) claimed with FOR UPDATE SKIP LOCKED and
    only while pending and due, so two passes at once, or a task delivered twice, never
    post the same delivery twice."""
    cipher, _ = personal_data_keys(settings)
    run = feedback.deliver_due(
        _engine(settings),
        cipher,
        daily.webhook_retry_policy(settings),
        clock=clock,
        batch=batch if delivery_ids is None else len(delivery_ids),
        delivery_ids=delivery_ids,
    )
    return {"claimed": run.claimed, "delivered": run.delivered, "dead": run.dead}


def run_plan_city(settings: Settings, day: str, city: str) -> dict[str, Any]:
    """The city's plan for the day: the one already made (draft or published), or a new
    draft; returns its id (a task delivered twice finds the first one's plan)."""
    on = date.fromisoformat(day)
    with transaction(_engine(settings)) as session:
        plan = plans_repo.plan_for(session, city, on)
        if plan is None:
            plan = run_plan(session, SYSTEM, on, city, PlanConfig.from_settings(settings))
        return {"plan": plan.id, "city": city, "day": day}


def run_prepare_dossiers(
    settings: Settings, clock: Clock, readers: list[list[int]]
) -> dict[str, Any]:
    """Render today's dossiers of these (verifier's user id, case id) pairs into the
    shared cache (a cached one is only read again); returns the counts."""
    with transaction(_engine(settings)) as session:
        prepared, skipped = dossier.prepare_dossiers(
            session,
            [(int(user), int(case)) for user, case in readers],
            zone=settings.zone,
            cache_dir=dossier.cache_folder(settings.var_dir),
            now=clock.now(),
            cipher=personal_data_keys(settings)[0],
            inline=True,
            policy=offers.policy_from(settings),
        )
    return {"prepared": prepared, "skipped": skipped}


def run_export_feedback(settings: Settings, day: str) -> dict[str, Any]:
    """Write the lender's feedback file of the business day into the shared exports
    folder; returns its rows."""
    with transaction(_engine(settings)) as session:
        path, rows = feedback.write_daily_file(
            session, date.fromisoformat(day), settings.zone, settings.var_dir / "exports"
        )
    return {"rows": rows, "file": path.name}


def register(app: Celery, settings: Settings, clock: Clock) -> None:
    """Bind the tasks to `app`; `clock` stamps what they write."""
    retry: dict[str, Any] = {
        "autoretry_for": TRANSIENT,
        "retry_backoff": True,
        "retry_backoff_max": 300,
        "max_retries": 5,
        "acks_late": True,
        "reject_on_worker_lost": True,
    }

    @app.task(name=PARTITION_TASK, **retry)  # type: ignore[untyped-decorator]
    def delinquency_partition(as_of: str, partition: int, partitions: int) -> dict[str, Any]:
        return run_delinquency_partition(settings, clock, as_of, partition, partitions)

    @app.task(name=scoring.SCORING_PARTITION_TASK, **retry)  # type: ignore[untyped-decorator]
    def scoring_partition(
        as_of: str, partition: int, partitions: int, model_version_id: int
    ) -> dict[str, Any]:
        return run_scoring_partition(
            settings, clock, as_of, partition, partitions, model_version_id
        )

    @app.task(name="doorstep.deliver_webhooks", **retry)  # type: ignore[untyped-decorator]
    def deliver_webhooks() -> dict[str, int]:
        return run_deliver_webhooks(settings, clock)

    @app.task(name=outbox.DELIVER_TASK, **retry)  # type: ignore[untyped-decorator]
    def deliver_webhook(delivery_ids: list[int]) -> dict[str, int]:
        return run_deliver_webhooks(settings, clock, delivery_ids=[int(i) for i in delivery_ids])

    @app.task(name=daily.PLAN_TASK, **retry)  # type: ignore[untyped-decorator]
    def plan_city(day: str, city: str) -> dict[str, Any]:
        return run_plan_city(settings, day, city)

    @app.task(name=daily.EXPORT_TASK, **retry)  # type: ignore[untyped-decorator]
    def export_feedback(day: str) -> dict[str, Any]:
        return run_export_feedback(settings, day)

    @app.task(name=daily.DOSSIERS_TASK, **retry)  # type: ignore[untyped-decorator]
    def prepare_dossiers(readers: list[list[int]]) -> dict[str, Any]:
        return run_prepare_dossiers(settings, clock, readers)
