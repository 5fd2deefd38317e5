"""Two people at once: one wins, the other is told, nothing is silently overwritten.

- two managers act on the same case at the same moment (API threads, page sessions, and
  two database sessions interleaved so that the UPDATE itself finds the row changed);
- two daily batches for the same day in two processes: the second refuses.

The sequential stale-version case is in tests/api/test_cases_api.py and the visit plan's
lock in tests/integration/test_visit_plans_web.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import Role
from doorstep.domain.errors import Conflict
from doorstep.services import cases
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import BatchRun, Case, User
from tests.factories.book import TEST_DATA_KEY, TEST_LOOKUP_KEY
from tests.factories.cases import set_state
from tests.factories.databases import url_of
from tests.factories.people import add_user, bearer
from tests.factories.web import make_app, sign_in
from tests.factories.world import ANYTIME_RULES, World

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
DOORSTEP = Path(sys.executable).with_name("doorstep")


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path) -> Any:
    """The shared app, at any time of day."""
    return make_app(engine, world, tmp_path, rules_file=ANYTIME_RULES)


@pytest.fixture
def second_manager(engine: Engine, world: World) -> str:
    with transaction(engine) as session:
        add_user(session, "manager2", Role.MANAGER, regions=["北京市"], display_name="Manager Two")
    return "manager2"


def case_row(engine: Engine, case_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.state, case.version


def trail(engine: Engine, case_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.action for e in audit.timeline(session, "case", case_id)]


def test_two_managers_at_once_through_the_api(
    client: TestClient, engine: Engine, world: World, second_manager: str
) -> None:
    """Both saw version v and send it at the same moment: exactly one wins."""
    case_id = world.other_case
    seen = set_state(engine, case_id, "new")
    before = trail(engine, case_id)
    moves = {"manager": "start_confirmation", second_manager: "mark_ready"}
    headers = {name: bearer(engine, name) for name in moves}
    barrier = threading.Barrier(len(moves))
    answers: dict[str, Any] = {}

    def act(name: str) -> None:
        barrier.wait()
        answers[name] = client.post(
            f"/api/cases/{case_id}/actions",
            json={"action": moves[name], "version": seen},
            headers=headers[name],
        )

    threads = [threading.Thread(target=act, args=(name,)) for name in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [200, 409], {n: r.text for n, r in answers.items()}
    winner = next(n for n, r in answers.items() if r.status_code == 200)
    loser = answers[next(n for n in moves if n != winner)]
    assert loser.headers["content-type"].startswith("application/problem+json")
    assert loser.json()["code"] == "conflict"
    assert "已被他人修改" in loser.json()["detail"]
    expected_state = {"start_confirmation": "confirming", "mark_ready": "ready"}[moves[winner]]
    assert case_row(engine, case_id) == (expected_state, seen + 1)
    assert trail(engine, case_id) == [*before, f"case.{moves[winner]}"]  # the loser left nothing


def test_the_update_itself_finds_the_row_changed(
    engine: Engine, world: World, second_manager: str
) -> None:
    """Both sessions loaded the case before either wrote and neither sent a version: the
    version column in the UPDATE's WHERE still refuses the second (no lost update)."""
    case_id = world.other_case
    seen = set_state(engine, case_id, "new")
    with Session(engine) as first, Session(engine) as second:
        actors = [
            users.actor_for(s, s.scalars(select(User).where(User.username == n)).one())
            for s, n in ((first, "manager"), (second, second_manager))
        ]
        loaded = [
            cases.get_case(s, a, case_id) for s, a in zip((first, second), actors, strict=True)
        ]
        assert [c.version for c in loaded] == [seen, seen]  # both hold it, as read
        cases.act(first, actors[0], case_id, "start_confirmation")
        first.commit()
        with pytest.raises(Conflict) as refused:
            cases.act(second, actors[1], case_id, "mark_ready")
        second.rollback()
    assert refused.value.message_zh == "案件已被他人修改，请刷新"
    assert case_row(engine, case_id) == ("confirming", seen + 1)


def test_two_managers_at_once_through_the_pages(
    app: Any, engine: Engine, world: World, second_manager: str
) -> None:
    """The case page's form carries the version it was drawn with: the later form is
    refused with a conflict page, in Chinese, with a way back."""
    case_id = world.other_case
    seen = set_state(engine, case_id, "new")
    with TestClient(app) as one, TestClient(app) as two:
        tokens = [sign_in(one, "manager"), sign_in(two, second_manager)]
        forms = [
            {"action": "start_confirmation", "version": str(seen), "csrf_token": tokens[0]},
            {"action": "mark_ready", "version": str(seen), "csrf_token": tokens[1]},
        ]
        url = f"/cases/{case_id}/actions"
        accept = {"accept": "text/html"}
        first = one.post(url, data=forms[0], headers=accept, follow_redirects=False)
        second = two.post(url, data=forms[1], headers=accept, follow_redirects=False)
    assert first.status_code == 303, first.text
    assert second.status_code == 409
    assert "案件已被他人修改" in second.text and f"/cases/{case_id}" in second.text
    assert case_row(engine, case_id) == ("confirming", seen + 1)


HOLDER = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    from doorstep.services.batch.daily import day_lock
    from doorstep.store.db import make_engine

    url, var_dir, as_of = sys.argv[1:4]
    engine = make_engine(url)
    with day_lock(engine, date.fromisoformat(as_of), Path(var_dir) / "locks"):
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


@pytest.mark.skipif(not DOORSTEP.exists(), reason="the doorstep command is not installed")
def test_a_second_batch_process_for_the_same_day_refuses(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    url, var_dir, day = url_of(engine), tmp_path / "batch-var", "2024-06-01"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "DOORSTEP_DATABASE_URL": url,
        "DOORSTEP_VAR_DIR": str(var_dir),
        # the world's personal data is sealed with the test keys
        "DOORSTEP_DATA_KEYS": TEST_DATA_KEY,
        "DOORSTEP_LOOKUP_KEY": TEST_LOOKUP_KEY,
    }
    command = [str(DOORSTEP), "batch", "run", "--as-of", day]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(var_dir), day],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "already running" in refused.stderr
    with Session(engine) as session:
        assert session.scalar(select(BatchRun.id)) is None  # the refused run wrote nothing

    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with Session(engine) as session:
        assert session.scalar(select(BatchRun.state)) == "done"
