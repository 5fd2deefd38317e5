"""The daily batch's lock: one run per business day at a time, across processes and
machines (a PostgreSQL advisory lock), or on one machine (a file lock) for SQLite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from doorstep.domain.errors import BatchAlreadyRunning
from doorstep.store.repositories import batch as batch_repo

__all__ = ["_lock_key", "day_lock"]


def _lock_key(as_of: date, schema: str = "") -> int:
    """Per day and schema: two installs sharing a PostgreSQL database do not block each other."""
    digest = hashlib.sha256(f"doorstep-batch-{schema}-{as_of.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def day_lock(engine: Engine, as_of: date, lock_dir: Path) -> Iterator[None]:
    """Hold the day's batch lock for the whole run, or raise `BatchAlreadyRunning`."""
    busy = BatchAlreadyRunning(
        f"the batch for {as_of} is already running",
        message_zh=f"{as_of} 的批处理正在运行",
    )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            key = _lock_key(as_of, batch_repo.current_schema(connection))
            if not batch_repo.try_advisory_lock(connection, key):
                raise busy
            try:
                yield
            finally:
                batch_repo.advisory_unlock(connection, key)
        return
    import fcntl  # the embedded SQLite default runs on one machine

    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"batch-{as_of.isoformat()}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
