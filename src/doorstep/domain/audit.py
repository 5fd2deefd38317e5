"""The audit chain. Each event's link is an HMAC-SHA256, under a key the database does not
hold, of the link before it, the key's id and the event's content: changing, removing or
reordering an event breaks every later link, and whoever can write the database but lacks
the key cannot recompute them to hide it.

A checkpoint (the last event's id, link and position, signed with the same key and kept
outside the database) anchors the chain: cutting its tail leaves a shorter chain whose
links all hold, and only the checkpoint knows it was longer.

Chains written before the key had plain SHA-256 links and no key id (`plain_link`); they
are read only to be re-signed once (`doorstep audit resign`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from doorstep.domain.errors import KeyMaterialError

GENESIS = "0" * 64
MIN_KEY_CHARS = 32
"""An audit key shorter than this could be guessed (a generated one has 43 or more)."""


def canonical(content: Mapping[str, Any]) -> str:
    """A stable text of an event's content: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def plain_link(previous: str, content: Mapping[str, Any]) -> str:
    """The link of a chain written before the audit key: anyone can recompute it."""
    return hashlib.sha256((previous + canonical(content)).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditKey:
    """One audit key; its id (stored with each event it signs) is a MAC of a constant, so
    it names the key without telling anything about it."""

    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def of(cls, text: str) -> AuditKey:
        if len(text) < MIN_KEY_CHARS:
            raise KeyMaterialError(
                f"an audit key needs at least {MIN_KEY_CHARS} characters",
                message_zh=f"审计密钥至少需要 {MIN_KEY_CHARS} 个字符",
            )
        secret = text.encode("utf-8")
        return cls(hmac.digest(secret, b"doorstep audit key id", "sha256").hex()[:16], secret)

    def sign(self, text: str) -> str:
        return hmac.digest(self.secret, text.encode("utf-8"), "sha256").hex()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The key that signs new events and checkpoints, and the retired ones that still
    verify what they signed (rotation: a new signing key, the old one kept here)."""

    signing: AuditKey
    retired: tuple[AuditKey, ...] = ()

    @classmethod
    def of(cls, signing: str, retired: Iterable[str] = ()) -> Keyring:
        return cls(AuditKey.of(signing), tuple(AuditKey.of(text) for text in retired))

    def key(self, key_id: str) -> AuditKey | None:
        return next((k for k in (self.signing, *self.retired) if k.id == key_id), None)


def keyed_link(key: AuditKey, previous: str, content: Mapping[str, Any]) -> str:
    return key.sign(previous + key.id + canonical(content))


@dataclass(frozen=True, slots=True)
class Link:
    """One stored event as the chain sees it."""

    event_id: int
    prev_hash: str
    hash: str
    key_id: str | None
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class BrokenLink:
    event_id: int
    reason: str


UNSIGNED = (
    "not signed: a plain SHA-256 link, which anyone can recompute (an upgraded install "
    "re-signs its chain once with `doorstep audit resign`)"
)


def link_problem(link: Link, previous: str, keys: Keyring, *, plain_ok: bool = False) -> str | None:
    """Why `link` does not follow `previous` under `keys`, or None. `plain_ok` accepts the
    plain links of a chain from before the key (only to re-sign it)."""
    if link.prev_hash != previous:
        return "previous hash does not match the event before it: an event removed or moved"
    if link.key_id is None:
        if not plain_ok:
            return UNSIGNED
        expected = plain_link(previous, link.content)
    else:
        key = keys.key(link.key_id)
        if key is None:
            return (
                f"signed with audit key {link.key_id}, which is not configured "
                "(a retired key belongs in DOORSTEP_AUDIT_OLD_KEYS)"
            )
        expected = keyed_link(key, previous, link.content)
    if not hmac.compare_digest(expected, link.hash):
        return "content does not match its signature: changed, or re-linked without the key"
    return None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at a moment: its last event, that event's link, how many events."""

    event_id: int
    hash: str
    count: int
    at: str  # ISO 8601, UTC

    def body(self, key_id: str) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "hash": self.hash,
            "count": self.count,
            "at": self.at,
            "key": key_id,
        }


def checkpoint_line(checkpoint: Checkpoint, keys: Keyring) -> str:
    """One line of the checkpoint file, signed with the signing key."""
    body = checkpoint.body(keys.signing.id)
    return canonical({**body, "sig": keys.signing.sign(canonical(body))})


def read_checkpoint(line: str, keys: Keyring) -> Checkpoint:
    """The checkpoint a line holds; ValueError (saying why) for a line not signed by one of
    `keys`: forged, edited or damaged."""
    try:
        fields = json.loads(line)
        checkpoint = Checkpoint(
            int(fields["event"]), str(fields["hash"]), int(fields["count"]), str(fields["at"])
        )
        key_id, signature = str(fields["key"]), str(fields["sig"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a checkpoint line") from None
    key = keys.key(key_id)
    if key is None:
        raise ValueError(f"signed with audit key {key_id}, which is not configured")
    if not hmac.compare_digest(key.sign(canonical(checkpoint.body(key_id))), signature):
        raise ValueError("its signature does not match: forged or edited without the key")
    return checkpoint


@dataclass(slots=True)
class ChainWalk:
    """Verifies a chain fed one link at a time in id order, against the keys and, when
    given, the latest checkpoint: the chain must hold the checkpointed event at the same
    position with the same link."""

    keys: Keyring
    anchor: Checkpoint | None = None
    plain_ok: bool = False
    count: int = 0
    last_hash: str = GENESIS
    last_event: int = 0
    broken: BrokenLink | None = None
    anchored: bool = False

    def add(self, link: Link) -> bool:
        """Take the next link; False once the chain is broken (stop feeding it then)."""
        problem = link_problem(link, self.last_hash, self.keys, plain_ok=self.plain_ok)
        if problem is not None:
            self.broken = BrokenLink(link.event_id, problem)
            return False
        self.count += 1
        self.last_hash, self.last_event = link.hash, link.event_id
        anchor = self.anchor
        if anchor is not None and link.event_id == anchor.event_id:
            self.anchored = True
            if (self.count, link.hash) != (anchor.count, anchor.hash):
                self.broken = BrokenLink(
                    link.event_id,
                    f"differs from the checkpoint of {anchor.at} (there event no. "
                    f"{anchor.count} of the chain, here no. {self.count}, or another "
                    "link): the chain before it was rewritten",
                )
                return False
        return True

    def finish(self, head: tuple[int, str] | None) -> BrokenLink | None:
        """The first problem of the whole chain, given the head row's (count, last link)."""
        if self.broken is not None:
            return self.broken
        if head is not None and head[0] != self.count:
            return BrokenLink(0, f"the head counts {head[0]} events, the table holds {self.count}")
        if head is not None and head[1] != self.last_hash:
            # A dropped tail with the counter lowered to match: the head still holds the
            # link of the last event it extended the chain with.
            return BrokenLink(0, "the head's last hash is not the last event's: events dropped")
        anchor = self.anchor
        if anchor is not None and anchor.count > 0 and not self.anchored:
            return BrokenLink(
                anchor.event_id,
                f"missing: the checkpoint of {anchor.at} names it as event no. {anchor.count} "
                f"and the chain holds {self.count} events without it: its tail was cut "
                "(or the chain rebuilt)",
            )
        return None


def verify_chain(
    links: Iterable[Link],
    keys: Keyring,
    *,
    head: tuple[int, str] | None = None,
    anchor: Checkpoint | None = None,
) -> tuple[int, BrokenLink | None]:
    """(links that held, the first problem or None) of a whole chain in id order."""
    walk = ChainWalk(keys, anchor)
    for link in links:
        if not walk.add(link):
            break
    return walk.count, walk.finish(head)
