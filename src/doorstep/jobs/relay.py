"""The outbox relay as the entry points build it: with a broker configured, the engine
they use publishes the deliveries each transaction wrote, as tasks, once it commits (see
`doorstep.services.outbox`). Without a broker the engine is used as it is and
deliveries wait for the next sweep."""

from __future__ import annotations

from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.integrations.broker import Broker
from doorstep.services import outbox


def relayed(engine: Engine, settings: Settings) -> Engine:
    """`engine`, relaying to the broker the settings name (if they name one)."""
    return with_broker(engine, Broker.from_settings(settings))


def with_broker(engine: Engine, broker: Broker | None) -> Engine:
    """`engine`, relaying to `broker`; `engine` itself without a broker."""
    if broker is None:
        return engine
    return outbox.relaying(engine, outbox.broker_publisher(broker))
