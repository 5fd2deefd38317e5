"""The audit key of the tests: the engines of the test databases sign with it, and every
`Settings` a test builds (its commands and the processes it starts) reads it from the
environment (`DOORSTEP_AUDIT_KEY`, set for each test in conftest)."""

from __future__ import annotations

from sqlalchemy import Engine

from doorstep.domain.audit import Keyring
from doorstep.services.conduct import audit

AUDIT_KEY = "test-audit-key-not-a-secret-0123456789abcdef"
AUDIT_KEYS = Keyring.of(AUDIT_KEY)


def signing(engine: Engine) -> Engine:
    """`engine`, its sessions signing audit events with the tests' key (as an entry point
    gives the engine it builds the configured key)."""
    audit.use_keys(engine, AUDIT_KEYS)
    return engine
