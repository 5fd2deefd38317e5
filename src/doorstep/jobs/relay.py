"""The outbox relay: with a broker configured, deliveries written by a transaction are
published as tasks once it commits (see `doorstep.services.lender.outbox`)."""

from __future__ import annotations

from doorstep.config import Settings
from doorstep.services.batch.broker import Broker
from doorstep.services.lender import outbox


def install(settings: Settings) -> bool:
    """Install the relay in this process when a broker is configured; True if it did.
    Without a broker nothing is published: deliveries wait for the next sweep."""
    broker = Broker.from_settings(settings)
    outbox.set_publisher(outbox.broker_publisher(broker) if broker else None)
    return broker is not None
