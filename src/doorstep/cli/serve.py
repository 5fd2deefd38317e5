"""`doorstep serve`: the web app (pages and the JSON API), optionally with the daily
batch's timer in the same process."""

from __future__ import annotations

from typing import Annotated

import typer

from doorstep.cli.common import console, ready_engine, settings
from doorstep.jobs.relay import relayed
from doorstep.store.db import make_engine


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    with_scheduler: Annotated[
        bool, typer.Option(help="also run the daily batch at DOORSTEP_BATCH_TIME each day")
    ] = False,
) -> None:
    """Run the web app (pages and the JSON API; OpenAPI at /docs)."""
    # the web stack is only needed here: doorstep.app (FastAPI, routes, templates) ~0.4 s
    import uvicorn

    from doorstep.app import create_app
    from doorstep.cli.scheduler import build_scheduler  # APScheduler (~35 ms), only here

    config = settings()
    if config.broker_url:  # with a broker: outbox deliveries published after commit
        console.print("outbox relay: deliveries are published to the broker's workers")
    scheduler = (
        build_scheduler(relayed(ready_engine(config), config), config) if with_scheduler else None
    )
    if scheduler is not None:
        scheduler.start()
        console.print(f"daily batch at {config.batch_time:%H:%M} ({config.timezone})")
    try:
        # idle connections kept longer than clients keep theirs (httpx 5 s, a proxy's 60 s),
        # so the server never closes one just as a client sends on it. X-Forwarded-For is
        # the app's to judge (DOORSTEP_TRUSTED_PROXIES): uvicorn's own reading would
        # believe any local client's.
        uvicorn.run(
            create_app(config, engine=relayed(make_engine(config.resolved_database_url), config)),
            host=host,
            port=port,
            log_level="info",
            timeout_keep_alive=75,
            proxy_headers=False,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
