"""The audit chain: each event holds the SHA-256 of the previous event's hash and its own
content, so changing, removing or reordering any stored event breaks every later link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(content: Mapping[str, Any]) -> str:
    """A stable text of an event's content: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def chain_hash(previous: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256((previous + canonical(content)).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class BrokenLink:
    event_id: int
    reason: str


def verify_chain(events: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> BrokenLink | None:
    """Check (id, prev_hash, hash, content) in id order; the first broken link, or None."""
    previous = GENESIS
    for event_id, prev_hash, stored, content in events:
        if prev_hash != previous:
            return BrokenLink(event_id, "previous hash does not match the event before it")
        if chain_hash(previous, content) != stored:
            return BrokenLink(event_id, "content does not match its hash")
        previous = stored
    return None
