"""The task broker as the services see it: send a task, or run a group of tasks on the
workers and wait for every one of them.

Celery is imported only here and only when a broker is configured, so the embedded
default (no broker) never loads it. Every doorstep process of one deployment names the
same queue; two deployments (or two test runs) sharing a Redis keep to their own queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from doorstep.config import Settings
from doorstep.domain.errors import TasksFailed

Outcome = Mapping[str, Any] | BaseException
"""A task's result (a mapping of figures) or the exception that failed it."""


@dataclass(frozen=True)
class Broker:
    url: str
    result_backend: str
    queue: str = "doorstep"
    timeout: float = 3600.0  # the longest a group is waited for

    @classmethod
    def from_settings(cls, settings: Settings) -> Broker | None:
        """The configured broker, or None for the embedded default."""
        if not settings.broker_url:
            return None
        return cls(
            settings.broker_url,
            settings.resolved_result_backend,
            settings.task_queue,
            settings.task_timeout_seconds,
        )

    def _client(self, *, results: bool) -> Any:
        from celery import Celery

        client = Celery(
            "doorstep",
            broker=self.url,
            backend=self.result_backend if results else None,
            set_as_current=False,
        )
        client.conf.task_default_queue = self.queue
        client.conf.broker_connection_timeout = 2  # a broker that is down: fail fast
        return client

    def sender(self) -> Any:
        """A client for fire-and-forget `send_task` calls (kept by the caller)."""
        return self._client(results=False)

    def run_group(self, task: str, calls: Iterable[Sequence[Any]]) -> list[Outcome]:
        """Enqueue `task(*args)` for each of `calls` and wait for all; returns, in call
        order, each result or the exception that failed it (a call not done before the
        timeout fails with the timeout)."""
        from celery import group

        client = self._client(results=True)
        try:
            result = group(client.signature(task, args=tuple(args)) for args in calls)
            running = result.apply_async(queue=self.queue)
            try:
                values = running.get(timeout=self.timeout, propagate=False)
            except Exception as exc:  # timed out: every call not yet done failed
                values = [r.result if r.ready() else exc for r in running.results]
            finally:
                running.forget()
            return [
                v if isinstance(v, BaseException | Mapping) else TypeError(f"{task} gave {v!r}")
                for v in values
            ]
        finally:
            client.close()


def reported(
    step: str, labels: Sequence[str], outcomes: Sequence[Outcome]
) -> list[Mapping[str, Any]]:
    """The results of a step's tasks (one per label, in order), or `TasksFailed` naming
    every label whose task failed or did not report: the step is done only when all are."""
    padded = [*outcomes, *[None] * (len(labels) - len(outcomes))]  # None: no report
    failed = [
        (label, outcome)
        for label, outcome in zip(labels, padded, strict=True)
        if not isinstance(outcome, Mapping)
    ]
    if failed:
        names = ", ".join(label for label, _ in failed)
        first = failed[0][1] if failed[0][1] is not None else TimeoutError("no report")
        raise TasksFailed(
            f"{step}: {len(failed)} of {len(labels)} task(s) failed: {names}"
            f" (first: {type(first).__name__}: {first})",
            message_zh=f"{step}：{len(labels)} 个任务中 {len(failed)} 个失败：{names}",
        )
    return [o for o in outcomes if isinstance(o, Mapping)]
