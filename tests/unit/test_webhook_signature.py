"""The signature a lender verifies: HMAC-SHA256 over timestamp + "." + body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from doorstep.domain.errors import SignatureError
from doorstep.integrations.webhooks import event_body, sign, verify

SECRET = "whsec_test"
BODY = event_body(
    "01J0000000000000000000000", "visit.verdict", "7", "2024-06-01T00:00:00+00:00", {"理由": "失业"}
)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(SECRET, BODY, 1_717_200_000)
    expected = hmac.new(SECRET.encode(), b"1717200000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1717200000,v1={expected}"
    assert verify(SECRET, header, BODY, now=1_717_200_010) == 1_717_200_000


def test_body_is_compact_sorted_utf8() -> None:
    assert BODY.startswith(b'{"created_at":')
    assert "失业".encode() in BODY


@pytest.mark.parametrize(
    ("secret", "body", "now", "problem"),
    [
        ("other", BODY, 1_717_200_000, "does not match"),
        (SECRET, BODY + b" ", 1_717_200_000, "does not match"),
        (SECRET, BODY, 1_717_200_000 + 301, "tolerance"),
    ],
)
def test_tampering_and_replay_are_refused(secret: str, body: bytes, now: int, problem: str) -> None:
    header = sign(SECRET, BODY, 1_717_200_000)
    with pytest.raises(SignatureError, match=problem):
        verify(secret, header, body, now=now)


def test_malformed_header_and_rotation() -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, "v1=abc", BODY)
    old = sign("old", BODY, 100).rpartition("v1=")[2]
    new = sign(SECRET, BODY, 100)
    assert verify(SECRET, f"{new},v1={old}", BODY, now=100) == 100
