"""The audit key of the tests: the engines of the test databases sign with it, and every
`Settings` a test builds (its commands and the processes it starts) reads it from the
environment (`DOORSTEP_AUDIT_KEY`, set for each test in conftest)."""

from __future__ import annotations

from doorstep.domain.audit import Keyring

AUDIT_KEY = "test-audit-key-not-a-secret-0123456789abcdef"
AUDIT_KEYS = Keyring.of(AUDIT_KEY)
