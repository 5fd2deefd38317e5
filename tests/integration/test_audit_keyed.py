"""An insider who can write the database and has the code, but not the audit key: every
edit, removal, reordering or cut they can make is found by `verify`, re-linking without
the key included; the checkpoints outside the database catch a cut tail, refuse forged
lines, and follow key rotation; a chain from before the key is re-signed once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, delete, inspect, select, update
from typer.testing import CliRunner

from doorstep.cli.main import app as cli
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.audit import (
    GENESIS,
    Checkpoint,
    Keyring,
    canonical,
    checkpoint_line,
    keyed_link,
    plain_link,
)
from doorstep.domain.errors import AuditChainBroken, KeyMaterialError
from doorstep.services.batch.daily import DEFAULT_STEPS, run_day
from doorstep.services.conduct import audit, audit_checks
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import AuditEvent, AuditHead
from tests.factories.audit import AUDIT_KEY, AUDIT_KEYS
from tests.factories.databases import url_of
from tests.factories.world import build_world

pytestmark = pytest.mark.db

NOW = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
GUESSED = Keyring.of("a-guess-at-the-audit-key-0000000000000000")
Linker = Callable[[str, dict[str, Any]], str]


def verify(engine: Engine, path: Path) -> audit_checks.Verification:
    with transaction(engine) as session:
        return audit_checks.verify(session, AUDIT_KEYS, path, batch=7)


def checkpoint(engine: Engine, path: Path, keys: Keyring = AUDIT_KEYS) -> Checkpoint:
    with transaction(engine) as session:
        return audit_checks.checkpoint(session, SYSTEM, keys, path, NOW, batch=7)


def write(engine: Engine, n: int, label: str = "more") -> None:
    with transaction(engine) as session:
        for i in range(n):
            audit.record(session, Actor("m1", Role.MANAGER), "test.write", "t", label, {"i": i})


def ids(engine: Engine) -> list[int]:
    with transaction(engine) as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def relink(engine: Engine, link: Linker, key_id: str | None, after: int = 0) -> None:
    """What the insider does after an edit: every link after event id `after` recomputed
    with `link` (the code is theirs), stored with `key_id`, and the head set to match."""
    with transaction(engine) as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        previous = GENESIS
        for event in events:
            if event.id > after:
                event.prev_hash, event.key_id = previous, key_id
                event.hash = link(previous, audit.event_content(event))
            previous = event.hash
        session.flush()
        session.execute(update(AuditHead).values(events=len(events), last_hash=previous))


def guessed(previous: str, content: dict[str, Any]) -> str:
    return keyed_link(GUESSED.signing, previous, content)


FORGERS: dict[str, tuple[Linker, str | None]] = {
    "plain-sha256-unsigned": (plain_link, None),
    "plain-sha256-key-id-kept": (plain_link, AUDIT_KEYS.signing.id),
    "guessed-key": (guessed, GUESSED.signing.id),
    "guessed-key-key-id-kept": (guessed, AUDIT_KEYS.signing.id),
}


@pytest.mark.parametrize("forger", FORGERS)
def test_an_edited_event_relinked_without_the_key_is_found(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], forger: str
) -> None:
    build_world(engine, tmp_path, keys)
    middle = ids(engine)[len(ids(engine)) // 2]
    with transaction(engine) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == middle).values(reason="x"))
    link, key_id = FORGERS[forger]
    relink(engine, link, key_id, after=middle - 1)
    found = verify(engine, tmp_path / "none")
    assert found.broken is not None and found.broken.event_id == middle
    assert found.events == ids(engine).index(middle)


@pytest.mark.parametrize("forger", ["plain-sha256-unsigned", "guessed-key"])
def test_a_deleted_event_relinked_without_the_key_is_found(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], forger: str
) -> None:
    build_world(engine, tmp_path, keys)
    before = ids(engine)
    with transaction(engine) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == before[5]))
    relink(engine, *FORGERS[forger], after=before[4])
    found = verify(engine, tmp_path / "none")
    assert found.broken is not None and found.broken.event_id == before[6]


def test_reordered_events_relinked_without_the_key_are_found(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """Two events swap places (their contents swap ids), every link after re-made."""
    build_world(engine, tmp_path, keys)
    first, second = ids(engine)[3:5]
    columns = ("at", "actor", "role", "action", "object_type", "object_id", "summary")
    with transaction(engine) as session:
        a, b = session.get_one(AuditEvent, first), session.get_one(AuditEvent, second)
        for column in columns:
            one, other = getattr(a, column), getattr(b, column)
            setattr(a, column, other)
            setattr(b, column, one)
    relink(engine, *FORGERS["guessed-key-key-id-kept"], after=first - 1)
    found = verify(engine, tmp_path / "none")
    assert found.broken is not None and found.broken.event_id == first


def test_a_cut_tail_is_caught_by_the_checkpoint(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The last events removed and the head set back to the new last event: every link
    still holds (nothing to re-link), and only the checkpoint knows the chain was longer."""
    build_world(engine, tmp_path, keys)
    path = tmp_path / "audit.checkpoints"
    mark = checkpoint(engine, path)
    write(engine, 3)
    all_ids = ids(engine)
    keep = all_ids[: all_ids.index(mark.event_id) - 2]
    with transaction(engine) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id > keep[-1]))
        last = session.get_one(AuditEvent, keep[-1]).hash
        session.execute(update(AuditHead).values(events=len(keep), last_hash=last))
    assert verify(engine, tmp_path / "none").broken is None  # without the checkpoint
    found = verify(engine, path)
    assert found.broken is not None and found.broken.event_id == mark.event_id
    assert "cut" in found.broken.reason
    with pytest.raises(AuditChainBroken):  # the next checkpoint refuses to sign over it
        checkpoint(engine, path)


def test_forged_checkpoint_lines_are_refused(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """A line appended to hide a cut, without the key: plain SHA-256, a guessed key, or a
    real line edited; each is refused by verify and by the next checkpoint."""
    build_world(engine, tmp_path, keys)
    path = tmp_path / "audit.checkpoints"
    mark = checkpoint(engine, path)
    real = path.read_text()
    body = json.loads(real)
    forgeries = [
        {**body, "count": 5, "sig": plain_link(GENESIS, {**body, "count": 5})},
        json.loads(checkpoint_line(Checkpoint(1, mark.hash, 1, "x"), GUESSED)),
        {**body, "count": mark.count - 3},
    ]
    for forged in forgeries:
        path.write_text(real + canonical(forged) + "\n")
        found = verify(engine, path)
        assert found.broken is not None and "line 2" in found.broken.reason
        assert "refused" in found.broken.reason
        with pytest.raises(AuditChainBroken):
            checkpoint(engine, path)
    path.write_text(real)
    assert verify(engine, path).broken is None


def test_a_clean_chain_with_checkpoints_passes(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    path = tmp_path / "audit.checkpoints"
    first = checkpoint(engine, path)
    write(engine, 4)
    second = checkpoint(engine, path)
    found = verify(engine, path)
    assert found.broken is None and found.checkpoint == second
    assert second.count == first.count + 1 + 4  # the first checkpoint's own event, then 4
    assert len(path.read_text().splitlines()) == 2
    with transaction(engine) as session:
        marks = audit.timeline(session, "audit", "chain")
    assert [e.summary["count"] for e in marks] == [first.count, second.count]


def test_a_checkpoint_file_older_than_the_chain_says_is_found(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The chain records each checkpoint it was given: a file cut back to an earlier line,
    or a missing one, cannot pass for the latest."""
    build_world(engine, tmp_path, keys)
    path = tmp_path / "audit.checkpoints"
    checkpoint(engine, path)
    checkpoint(engine, path)
    first_line = path.read_text().splitlines()[0]
    path.write_text(first_line + "\n")
    found = verify(engine, path)
    assert found.broken is not None and "does not hold" in found.broken.reason
    path.unlink()
    assert verify(engine, path).broken is not None


def test_rotation_keeps_old_events_verifiable(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """A new signing key with the old one retired: the old events and checkpoints verify,
    new ones are signed with the new key; without the old key the old events do not."""
    build_world(engine, tmp_path, keys)
    path = tmp_path / "audit.checkpoints"
    checkpoint(engine, path)
    rotated = Keyring.of("the-next-audit-key-1111111111111111111111", [AUDIT_KEY])
    audit.use_keys(engine, rotated)
    write(engine, 3, "after rotation")
    mark = checkpoint(engine, path, rotated)
    with transaction(engine) as session:
        found = audit_checks.verify(session, rotated, path)
        signed_by = set(session.scalars(select(AuditEvent.key_id)))
    assert found.broken is None and found.checkpoint == mark
    assert signed_by == {AUDIT_KEYS.signing.id, rotated.signing.id}
    with transaction(engine) as session:
        alone = audit_checks.verify(session, Keyring.of(rotated.signing.secret.decode()), path)
    assert alone.broken is not None and "not configured" in alone.broken.reason


def test_nothing_is_written_without_an_audit_key(engine: Engine, tmp_path: Path) -> None:
    bare = make_engine(url_of(engine))
    try:
        with pytest.raises(KeyMaterialError), transaction(bare) as session:
            audit.record(session, SYSTEM, "test.write", "t", "1")
    finally:
        bare.dispose()
    assert ids(engine) == []


def plain_chain(engine: Engine, upto: int | None = None) -> None:
    """The chain as the code before the audit key wrote it: plain SHA-256 links, no key
    ids (up to event id `upto`; the rest re-linked under the key after it)."""
    relink(engine, plain_link, None)
    if upto is not None:
        key = AUDIT_KEYS.signing
        relink(engine, lambda p, c: keyed_link(key, p, c), key.id, after=upto)


@pytest.mark.parametrize("mixed", [False, True], ids=["plain", "plain-then-keyed"])
def test_resign_upgrades_a_plain_chain_once(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], mixed: bool
) -> None:
    """An install upgraded from the plain chain (and, mixed, that wrote events under the key
    before re-signing): verify calls it unsigned; resign checks and re-signs it all."""
    build_world(engine, tmp_path, keys)
    before = ids(engine)
    plain_chain(engine, before[len(before) // 2] if mixed else None)
    path = tmp_path / "audit.checkpoints"
    found = verify(engine, path)
    assert found.broken is not None and found.broken.event_id == before[0]
    assert "resign" in found.broken.reason
    with transaction(engine) as session:
        assert audit_checks.resign(session, SYSTEM, AUDIT_KEYS, batch=7) == len(before)
    checkpoint(engine, path)
    assert verify(engine, path).broken is None
    with transaction(engine) as session:
        assert audit_checks.resign(session, SYSTEM, AUDIT_KEYS) == 0  # once only


def test_resign_refuses_a_broken_plain_chain(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    plain_chain(engine)
    middle = ids(engine)[4]
    with transaction(engine) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == middle).values(actor="x"))
    with (
        pytest.raises(AuditChainBroken, match=f"event {middle}"),
        transaction(engine) as session,
    ):
        audit_checks.resign(session, SYSTEM, AUDIT_KEYS, batch=7)
    with transaction(engine) as session:  # rolled back: still the plain chain
        assert set(session.scalars(select(AuditEvent.key_id))) == {None}


def run(*args: str) -> tuple[int, str]:
    """A command's exit code and its output (stdout and stderr) as one line of words."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def command_env(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands on this test's database; checkpoints in a folder of their own."""
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    path = tmp_path / "write-once" / "audit.checkpoints"
    monkeypatch.setenv("DOORSTEP_AUDIT_CHECKPOINTS", str(path))
    return path


def test_cli_checkpoint_and_verify(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], command_env: Path
) -> None:
    build_world(engine, tmp_path, keys)
    code, out = run("audit", "verify")
    assert code == 0 and "audit chain intact" in out and f"no checkpoint in {command_env}" in out
    code, out = run("audit", "checkpoint")
    assert code == 0 and f"checkpoint written to {command_env}: event" in out
    [line] = command_env.read_text().splitlines()
    mark = json.loads(line)
    code, out = run("audit", "verify")
    assert code == 0, out
    assert f"holds the checkpoint of {mark['at']} (event {mark['event']}" in out
    with transaction(engine) as session:  # the tail cut back before the checkpoint
        session.execute(delete(AuditEvent).where(AuditEvent.id >= mark["event"] - 2))
        left = list(session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id)))
        session.execute(update(AuditHead).values(events=len(left), last_hash=left[-1]))
    code, out = run("audit", "verify")
    assert code == 1
    assert f"audit chain broken at event {mark['event']}: missing" in out and "cut" in out
    code, out = run("audit", "checkpoint")
    assert code == 1 and f"broken at event {mark['event']}" in out
    assert command_env.read_text().splitlines() == [line]  # nothing signed over it


def test_cli_verify_refuses_a_forged_checkpoint_and_a_wrong_key(
    engine: Engine,
    tmp_path: Path,
    keys: tuple[object, object],
    command_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_world(engine, tmp_path, keys)
    assert run("audit", "checkpoint")[0] == 0
    real = json.loads(command_env.read_text())
    forged = {**real, "count": real["count"] + 5}
    with command_env.open("a") as handle:
        handle.write(canonical(forged) + "\n")
    code, out = run("audit", "verify")
    assert code == 1 and f"checkpoint line 2 of {command_env} refused" in out
    assert "signature does not match" in out
    command_env.write_text(canonical(real) + "\n")
    assert run("audit", "verify")[0] == 0
    monkeypatch.setenv("DOORSTEP_AUDIT_KEY", GUESSED.signing.secret.decode())
    code, out = run("audit", "verify")
    assert code == 1 and "not configured" in out


def test_cli_resign(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], command_env: Path
) -> None:
    build_world(engine, tmp_path, keys)
    plain_chain(engine)
    events = len(ids(engine))
    code, out = run("audit", "verify")
    assert code == 1 and "not signed" in out and "doorstep audit resign" in out
    code, out = run("audit", "resign")
    assert code == 0 and f"re-signed {events} events with audit key {AUDIT_KEYS.signing.id}" in out
    code, out = run("audit", "verify")
    assert code == 0 and "holds the checkpoint" in out
    code, out = run("audit", "resign")
    assert code == 0 and "nothing re-signed" in out


def test_the_daily_batch_checkpoints_the_chain(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The batch's last step signs the head into the file; when the chain since the last
    checkpoint is broken it fails and signs nothing (`verify` reads the whole chain)."""
    build_world(engine, tmp_path, keys)
    path = tmp_path / "elsewhere" / "audit.checkpoints"
    config = Settings(var_dir=tmp_path / "var", audit_checkpoints=path)
    steps = [s for s in DEFAULT_STEPS if s.name == "checkpoint"]
    [outcome] = run_day(engine, config, date(2024, 6, 1), steps=steps)
    assert outcome.state == "done"
    mark = verify(engine, path).checkpoint
    assert mark is not None and outcome.counts == {"event": mark.event_id, "events": mark.count}
    write(engine, 3)
    edited = ids(engine)[-2]
    with transaction(engine) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == edited).values(reason="x"))
    with pytest.raises(AuditChainBroken, match=f"event {edited}"):
        run_day(engine, config, date(2024, 6, 2), steps=steps)
    assert len(path.read_text().splitlines()) == 1


def test_the_migration_upgrades_an_old_chain_to_unsigned_then_resign_signs_it(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """An install from before 0018_audit_keyed: its plain chain comes through the upgrade
    (and a downgrade) intact, reported unsigned until re-signed."""
    build_world(engine, tmp_path, keys)
    plain_chain(engine)
    count = len(ids(engine))
    with engine.begin() as connection:
        config = migrate.alembic_config(engine)
        config.attributes["connection"] = connection
        config.attributes["keys"] = keys  # later revisions seal and open personal data
        command.downgrade(config, "0017_child_partition_slots")
        assert "key_id" not in {c["name"] for c in inspect(connection).get_columns("audit_events")}
    migrate.upgrade(engine, keys=keys)
    path = tmp_path / "audit.checkpoints"
    found = verify(engine, path)
    assert found.broken is not None and "not signed" in found.broken.reason
    with transaction(engine) as session:
        assert audit_checks.resign(session, SYSTEM, AUDIT_KEYS) == count
    assert verify(engine, path).broken is None
