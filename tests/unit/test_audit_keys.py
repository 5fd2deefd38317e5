"""The keyed audit chain and its checkpoints as pure logic: whoever lacks the key can
neither re-link a changed chain nor sign a checkpoint; a checkpoint catches a cut tail."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from doorstep.config import Settings
from doorstep.domain.audit import (
    GENESIS,
    UNSIGNED,
    AuditKey,
    BrokenLink,
    Checkpoint,
    Keyring,
    Link,
    checkpoint_line,
    keyed_link,
    plain_link,
    read_checkpoint,
    verify_chain,
)
from doorstep.domain.errors import KeyMaterialError
from doorstep.integrations.keys import audit_keyring

KEYS = Keyring.of("k" * 40)
GUESSED = Keyring.of("g" * 40)


def chain(n: int, keys: Keyring = KEYS, start: int = 1) -> list[Link]:
    links, previous = [], GENESIS
    for event_id in range(start, start + n):
        content = {"n": event_id, "action": "case.open", "名": "张三"}
        digest = keyed_link(keys.signing, previous, content)
        links.append(Link(event_id, previous, digest, keys.signing.id, content))
        previous = digest
    return links


def relinked(links: list[Link], link: Any, start: int = 0) -> list[Link]:
    """The chain with every link from index `start` on recomputed by `link(previous,
    content)`: what someone who can write the database does after changing an event."""
    out = links[:start]
    previous = out[-1].hash if out else GENESIS
    for item in links[start:]:
        digest = link(previous, item.content)
        out.append(replace(item, prev_hash=previous, hash=digest))
        previous = digest
    return out


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(chain(5), KEYS) == (5, None)


def test_changed_removed_or_reordered_events_break_the_chain() -> None:
    links = chain(5)
    changed = list(links)
    changed[2] = replace(links[2], content={**links[2].content, "n": 99})
    assert verify_chain(changed, KEYS)[1].event_id == 3  # type: ignore[union-attr]
    assert verify_chain(links[:2] + links[3:], KEYS)[1].event_id == 4  # type: ignore[union-attr]
    swapped = [links[1], links[0], *links[2:]]
    assert verify_chain(swapped, KEYS)[1].event_id == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "forger",
    [
        lambda previous, content: plain_link(previous, content),
        lambda previous, content: keyed_link(GUESSED.signing, previous, content),
    ],
    ids=["plain-sha256", "guessed-key"],
)
def test_relinking_without_the_key_is_found(forger: Any) -> None:
    """Changed, then every later link recomputed with plain SHA-256 or another key (the
    stored key id kept, or set to that key's): the first re-linked event is reported."""
    links = chain(5)
    links[2] = replace(links[2], content={**links[2].content, "n": 99})
    forged = relinked(links, forger, start=2)
    count, broken = verify_chain(forged, KEYS)
    assert count == 2 and broken is not None and broken.event_id == 3
    assert "signature" in broken.reason
    as_guessed = forged[:2] + [replace(x, key_id=GUESSED.signing.id) for x in forged[2:]]
    broken = verify_chain(as_guessed, KEYS)[1]
    assert broken is not None and broken.event_id == 3 and "not configured" in broken.reason
    unsigned = relinked(links, plain_link, start=2)
    unsigned[2:] = [replace(x, key_id=None) for x in unsigned[2:]]
    assert verify_chain(unsigned, KEYS)[1] == BrokenLink(3, UNSIGNED)


def test_rotation_keeps_old_events_verifiable() -> None:
    """Events signed with the old key, then events with the new one: both verify while the
    old key is kept as retired, and the old ones fail once it is dropped."""
    old, new = "o" * 40, "n" * 40
    first = chain(3, Keyring.of(old))
    previous = first[-1].hash
    rotated = Keyring.of(new, [old])
    later = []
    for event_id in (4, 5):
        content = {"n": event_id}
        digest = keyed_link(rotated.signing, previous, content)
        later.append(Link(event_id, previous, digest, rotated.signing.id, content))
        previous = digest
    assert verify_chain(first + later, rotated) == (5, None)
    broken = verify_chain(first + later, Keyring.of(new))[1]
    assert broken is not None and broken.event_id == 1 and "not configured" in broken.reason


def test_a_checkpoint_catches_a_cut_tail_and_a_rewritten_prefix() -> None:
    links = chain(6)
    mark = Checkpoint(5, links[4].hash, 5, "2025-03-01T06:00:00+00:00")
    assert verify_chain(links, KEYS, anchor=mark) == (6, None)
    count, broken = verify_chain(links[:4], KEYS, anchor=mark)  # the tail cut, links hold
    assert count == 4 and broken is not None and broken.event_id == 5
    assert "missing" in broken.reason and "cut" in broken.reason
    # The same events under other ids (one dropped, the rest renumbered) do not pass.
    renumbered = chain(5, start=2)
    broken = verify_chain(renumbered, KEYS, anchor=mark)[1]
    assert broken is not None and broken.event_id == 5 and "differs" in broken.reason


def test_checkpoint_lines_need_the_key() -> None:
    mark = Checkpoint(7, "ab" * 32, 7, "2025-03-01T06:00:00+00:00")
    line = checkpoint_line(mark, KEYS)
    assert read_checkpoint(line, KEYS) == mark
    fields = json.loads(line)
    with pytest.raises(ValueError, match="signature"):
        read_checkpoint(json.dumps({**fields, "count": 3}), KEYS)  # edited
    with pytest.raises(ValueError, match="not configured"):
        read_checkpoint(checkpoint_line(mark, GUESSED), KEYS)  # forged with a guessed key
    forged = {**fields, "sig": plain_link(GENESIS, fields)}  # a signature without the key
    with pytest.raises(ValueError, match="signature"):
        read_checkpoint(json.dumps(forged), KEYS)
    with pytest.raises(ValueError, match="not a checkpoint"):
        read_checkpoint("event=7 count=7", KEYS)
    rotated = Keyring.of("n" * 40, ["k" * 40])
    assert read_checkpoint(line, rotated) == mark  # an old line still verifies


def test_keys_are_long_and_their_ids_tell_nothing() -> None:
    with pytest.raises(KeyMaterialError):
        AuditKey.of("short")
    key = AuditKey.of("k" * 40)
    assert key.id == AuditKey.of("k" * 40).id != AuditKey.of("j" * 40).id
    assert len(key.id) == 16 and "kkkk" not in key.id and "kkkk" not in repr(key)


def test_the_keyring_comes_from_the_settings_or_the_secrets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOORSTEP_AUDIT_KEY", raising=False)
    var = tmp_path / "var"
    local = audit_keyring(Settings(var_dir=var))  # made on first use, owner-only
    path = tmp_path / "secrets" / "audit.key"  # beside var_dir: a copy of it has no key
    assert path.stat().st_mode & 0o777 == 0o600
    assert not var.exists() or not any(var.rglob("audit.key"))
    assert audit_keyring(Settings(var_dir=var)) == local
    path.write_text("n" * 43 + "\n" + path.read_text())  # rotation: a new first line
    rotated = audit_keyring(Settings(var_dir=var))
    assert rotated.signing == AuditKey.of("n" * 43)
    assert rotated.key(local.signing.id) == local.signing
    configured = Settings(var_dir=var, audit_key="e" * 40, audit_old_keys="o" * 40)
    assert audit_keyring(configured) == Keyring.of("e" * 40, ["o" * 40])
    with pytest.raises(KeyMaterialError, match="its own key"):
        audit_keyring(Settings(var_dir=var, audit_key="l" * 40, lookup_key="l" * 40))
