"""Checking the audit trail: the chain against the keys and the latest checkpoint
(`verify`), a signed checkpoint of the head appended to a file outside the database
(`checkpoint`), and re-signing once a chain written before the audit key (`resign`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.audit import (
    GENESIS,
    BrokenLink,
    ChainWalk,
    Checkpoint,
    Keyring,
    Link,
    checkpoint_line,
    keyed_link,
    read_checkpoint,
)
from doorstep.domain.errors import AuditChainBroken
from doorstep.integrations.checkpoints import append_line, read_lines
from doorstep.services.conduct import audit
from doorstep.store.models import AuditEvent
from doorstep.store.repositories import audit as repo

CHECKPOINT_ACTION = "audit.checkpoint"


@dataclass(frozen=True, slots=True)
class Verification:
    events: int
    broken: BrokenLink | None
    checkpoint: Checkpoint | None
    """The latest checkpoint, which the chain was held against (None: none yet)."""


def _events(session: Session, after: int, batch: int) -> Iterator[AuditEvent]:
    """Every event after id `after` in id order, `batch` at a time (what the caller
    changed is flushed before a batch leaves the session)."""
    while True:
        events = repo.events_after(session, after, batch)
        if not events:
            return
        yield from events
        after = events[-1].id
        session.flush()
        session.expunge_all()


def _link(event: AuditEvent) -> Link:
    return Link(event.id, event.prev_hash, event.hash, event.key_id, audit.event_content(event))


def latest_checkpoint(path: Path, keys: Keyring) -> tuple[Checkpoint | None, BrokenLink | None]:
    """The file's last checkpoint, every line's signature checked: a line not signed by
    one of `keys` is reported (event 0) and nothing is trusted."""
    latest = None
    for number, line in enumerate(read_lines(path), start=1):
        try:
            latest = read_checkpoint(line, keys)
        except ValueError as exc:
            return None, BrokenLink(0, f"checkpoint line {number} of {path} refused: {exc}")
    return latest, None


def verify(
    session: Session, keys: Keyring, checkpoints: Path, *, batch: int = 5000
) -> Verification:
    """The whole chain against `keys` and the latest checkpoint in the file `checkpoints`:
    a changed, removed, reordered or re-linked event, a cut tail, a forged checkpoint line
    or a checkpoint file older than the chain says it has all come back as `broken`."""
    audit.chain_pending(session)
    anchor, refused = latest_checkpoint(checkpoints, keys)
    if refused is not None:
        return Verification(0, refused, None)
    walk, recorded = ChainWalk(keys, anchor), 0

    def note(event: AuditEvent) -> None:
        nonlocal recorded  # the latest checkpoint the chain says it was given
        if event.action == CHECKPOINT_ACTION:
            recorded = int(event.summary.get("count", 0))

    broken = walk.finish(_walk_to_head(session, walk, batch, note))
    if broken is None and recorded > (anchor.count if anchor else 0):
        broken = BrokenLink(
            0,
            f"the chain records a checkpoint of {recorded} events that {checkpoints} "
            "does not hold: the file was replaced or cut, or it is not where checkpoints go",
        )
    return Verification(walk.count, broken, anchor)


def _walk_to_head(
    session: Session, walk: ChainWalk, batch: int, note: Callable[[AuditEvent], None]
) -> tuple[int, str] | None:
    """Feed `walk` every event after its last one, until it has as many as the head row
    counts (events committed while it read are read too) or there are no more; the head."""
    while True:
        read = 0
        for event in _events(session, walk.last_event, batch):
            read += 1
            if not walk.add(_link(event)):
                return None
            note(event)
        head = repo.head(session)
        if head is None or head[0] <= walk.count or read == 0:
            return head


def _since(session: Session, keys: Keyring, start: Checkpoint | None, batch: int) -> ChainWalk:
    """The chain from checkpoint `start` (or the beginning) to its end, walked: `start`'s
    event must still be there at its position with its link."""
    if start is None or start.count == 0:
        walk = ChainWalk(keys)
    else:
        event = session.get(AuditEvent, start.event_id)
        if event is None or event.hash != start.hash:
            raise _broken(BrokenLink(start.event_id, f"not as checkpointed at {start.at}"))
        if repo.events_through(session, start.event_id) != start.count:
            raise _broken(BrokenLink(start.event_id, f"moved since checkpointed at {start.at}"))
        walk = ChainWalk(keys, count=start.count, last_hash=start.hash, last_event=start.event_id)
    for event in _events(session, walk.last_event, batch):
        if not walk.add(_link(event)):
            break
    return walk


def _broken(link: BrokenLink) -> AuditChainBroken:
    return AuditChainBroken(
        f"the audit chain is broken at event {link.event_id}: {link.reason}",
        message_zh=f"审计链在事件 {link.event_id} 处断裂：{link.reason}",
    )


def checkpoint(
    session: Session,
    actor: Actor,
    keys: Keyring,
    checkpoints: Path,
    now: datetime,
    *,
    batch: int = 5000,
) -> Checkpoint:
    """Append a signed checkpoint of the chain's head to the file `checkpoints`, after
    checking the chain since the previous checkpoint (a broken one raises
    AuditChainBroken and nothing is written), and record it in the chain."""
    audit.chain_pending(session)
    head = repo.lock_head(session)  # no event joins the chain until this commits
    previous, refused = latest_checkpoint(checkpoints, keys)
    if refused is not None:
        raise _broken(refused)
    walk = _since(session, keys, previous, batch)
    broken = walk.finish(head)
    if broken is not None:
        raise _broken(broken)
    mark = Checkpoint(walk.last_event, walk.last_hash, walk.count, now.astimezone(UTC).isoformat())
    append_line(checkpoints, checkpoint_line(mark, keys))
    summary = {"event": mark.event_id, "count": mark.count, "key": keys.signing.id}
    audit.record(session, actor, CHECKPOINT_ACTION, "audit", "chain", summary)
    return mark


def resign(session: Session, actor: Actor, keys: Keyring, *, batch: int = 5000) -> int:
    """Re-link every event under the signing key, once the whole chain is checked (plain
    SHA-256 links from before the audit key accepted), and record that it did; the events
    re-signed, 0 when none was unsigned. A chain that does not hold raises
    AuditChainBroken: the caller's transaction then rolls back and nothing changes."""
    audit.chain_pending(session)
    head = repo.lock_head(session)
    if not repo.has_unsigned(session):
        return 0
    walk, key, last = ChainWalk(keys, plain_ok=True), keys.signing, GENESIS
    for event in _events(session, 0, batch):
        if not walk.add(_link(event)):
            break
        event.prev_hash, event.key_id = last, key.id
        event.hash = last = keyed_link(key, last, audit.event_content(event))
    broken = walk.finish(head)
    if broken is not None:
        raise _broken(broken)
    session.flush()
    repo.set_head_hash(session, last)
    summary = {"events": walk.count, "key": key.id}
    audit.record(session, actor, "audit.resign", "audit", "chain", summary)
    return walk.count
