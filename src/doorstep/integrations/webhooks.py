"""Signed webhook requests: HMAC-SHA256 over `timestamp + "." + body`, sent in the
`Doorstep-Signature: t=<unix seconds>,v1=<hex>` header with the event id in
`Doorstep-Event-Id` so the receiver can drop a repeat. `verify` is what a lender runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from doorstep.domain.errors import SignatureError
from doorstep.integrations.destinations import PUBLIC_ONLY, Destinations, UnsafeDestination

__all__ = ["PUBLIC_ONLY", "Destinations", "UnsafeDestination", "post", "sign", "verify"]

SIGNATURE_HEADER = "Doorstep-Signature"
EVENT_ID_HEADER = "Doorstep-Event-Id"
TOPIC_HEADER = "Doorstep-Topic"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def event_body(event_id: str, topic: str, key: str, created_at: str, data: Any) -> bytes:
    """The request body: compact UTF-8 JSON with sorted keys."""
    document = {"id": event_id, "topic": topic, "key": key, "created_at": created_at, "data": data}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a received request; returns its timestamp or raises SignatureError.

    Several `v1=` values are accepted (one per secret during a rotation)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header: expected t=...,v1=...")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance window")
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match the body")
    return timestamp


@dataclass(frozen=True, slots=True)
class PostResult:
    ok: bool
    status: int | None  # HTTP status, None when no response came
    error: str | None


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    destinations: Destinations = PUBLIC_ONLY,
) -> PostResult:
    """POST once to `url`, checked against `destinations` now (its name may point
    elsewhere than when it was registered) and connected to the very address checked, so
    a second lookup cannot swap it. Any 2xx is a success; everything else (a status, a
    redirect, which is never followed, a timeout, a refusal) is not."""
    try:
        target = destinations.target(url)
    except UnsafeDestination as exc:
        return PostResult(False, None, f"refused destination: {exc.message}")
    connection = target.connection(timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
        )
        response = connection.getresponse()
        response.read(64 * 1024)
        status = int(response.status)
        ok = 200 <= status < 300
        return PostResult(ok, status, None if ok else f"HTTP {status}")
    except TimeoutError:
        return PostResult(False, None, f"timeout after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return PostResult(False, None, f"unreachable: {exc}")
    finally:
        connection.close()
