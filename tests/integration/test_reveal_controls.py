"""Reveals of personal data against insiders: a per-person rate and a daily ceiling per
role, both from the pack's one `reveal_quota` rule and counted atomically (concurrent
reveals never pass the ceiling); alerts to the region's managers and the auditors on a
burst, on the ceiling and on reveals of cases neither assigned nor planned; a request for
more than the threshold waits for a second person. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, func, select

from doorstep.domain.access import Actor, Role
from doorstep.domain.errors import Conflict, DoorstepError, Forbidden, NotFound, RevealLimited
from doorstep.domain.ports import Cipher
from doorstep.domain.reveal import quota
from doorstep.domain.rules import Pack, load
from doorstep.services.cases import bulk_reveal, contacts
from doorstep.services.visits import alerts
from doorstep.store.db import transaction
from doorstep.store.models import Alert, AuditEvent, RevealCounter
from tests.factories.people import actor_in, add_user
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db
WINDOW = timedelta(minutes=10)


def pack_with(**params: int) -> Pack:
    """The CN pack with the quota rule's parameters changed by an override file."""
    lines = "\n".join(f"{k} = {v}" for k, v in params.items())
    return load("cn", ("limits.toml", f"[rules.CN-REVEAL-QUOTA.params]\n{lines}\n"))


def window_start() -> datetime:
    """The start of the current 10-minute window (plus a second): reveals at this time
    and a few seconds later share a window, whenever the test runs."""
    now = datetime.now(UTC)
    return now - timedelta(seconds=int(now.timestamp()) % 600) + timedelta(seconds=1)


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    world = build_world(engine, tmp_path, keys)
    with transaction(engine) as session:
        add_user(session, "manager_b", Role.MANAGER, regions=["北京市"])
        add_user(session, "manager_sh", Role.MANAGER, regions=["上海市"])
    return world


def who(engine: Engine, username: str) -> Actor:
    with transaction(engine) as session:
        return actor_in(session, username)


def reveal(world: World, actor: Actor, case_id: int, pack: Pack, now: datetime) -> str:
    with transaction(world.engine) as session:
        return contacts.reveal(
            session,
            actor,
            cast(Cipher, world.cipher),
            case_id,
            field="id_number",
            purpose="legal",
            pack=pack,
            now=now,
        )


def count(engine: Engine, model: Any, *where: Any) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def reveals(engine: Engine) -> int:
    return count(engine, AuditEvent, AuditEvent.action == "personal_data.reveal")


def test_the_rate_is_the_rules_and_refused_past_it_in_its_words(world: World) -> None:
    """Three a window (the rule says so): the fourth is refused with 429, in the rule's
    words, nothing shown and nothing counted; the next window starts again."""
    pack, now = pack_with(per_window=3, alert_after=3), window_start()
    manager = who(world.engine, "manager")
    for n in range(3):
        assert reveal(world, manager, world.other_case, pack, now + timedelta(seconds=n))
    with pytest.raises(RevealLimited) as refused:
        reveal(world, manager, world.other_case, pack, now + timedelta(seconds=5))
    rule = quota(pack)
    assert rule is not None and rule.rule.message_en in refused.value.message
    assert "at most 3 reveals" in refused.value.message and "4 reveals in 10 minutes > 3" in (
        refused.value.message
    )
    assert "最多查看个人信息 3 次" in refused.value.message_zh
    assert reveals(world.engine) == 3
    assert reveal(world, manager, world.other_case, pack, now + WINDOW)  # a new window
    # the shipped pack: 20 a window; each person has their own count
    assert "at most 20 reveals" in (quota(load("cn")) or rule).rule.message_en
    assert reveal(world, who(world.engine, "manager_b"), world.other_case, pack, now)


def test_the_daily_ceiling_is_per_role_and_resets_the_next_day(world: World) -> None:
    pack = pack_with(per_window=100, daily_verifier=2, daily_manager=4)
    now = window_start()
    verifier, manager = who(world.engine, "verifier"), who(world.engine, "manager")
    for n in range(2):
        reveal(world, verifier, world.assigned_case, pack, now + timedelta(seconds=n))
    with pytest.raises(RevealLimited, match="3 reveals today > 2 for verifier"):
        reveal(world, verifier, world.assigned_case, pack, now + timedelta(seconds=3))
    for n in range(4):  # a manager's ceiling is the manager's
        reveal(world, manager, world.other_case, pack, now + timedelta(seconds=n))
    with pytest.raises(RevealLimited, match="5 reveals today > 4 for manager"):
        reveal(world, manager, world.other_case, pack, now + timedelta(seconds=5))
    assert reveal(world, manager, world.other_case, pack, now + timedelta(days=1))


def test_concurrent_reveals_never_pass_the_ceiling(world: World) -> None:
    """Twelve reveals at once against a ceiling of five: exactly five happen. The count
    is one conditional UPDATE, so no two requests can both see room for the last one."""
    pack, now = pack_with(per_window=100, daily_manager=5), window_start()
    manager = who(world.engine, "manager")
    start = threading.Barrier(12)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        try:
            reveal(world, manager, world.other_case, pack, now)
            result = "revealed"
        except RevealLimited:
            result = "limited"
        except DoorstepError as exc:  # pragma: no cover - shown in the assertion
            result = repr(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["limited"] * 7 + ["revealed"] * 5
    assert reveals(world.engine) == 5
    with transaction(world.engine) as session:
        assert session.scalars(select(RevealCounter.day_count)).all() == [5]


def test_anomalies_alert_the_regions_managers_and_the_auditors(world: World) -> None:
    pack, now = pack_with(per_window=10, alert_after=3, daily_manager=6), window_start()
    manager = who(world.engine, "manager")
    reveal(world, manager, world.assigned_case, pack, now)  # live-assigned: expected
    assert count(world.engine, Alert) == 0
    reveal(world, manager, world.other_case, pack, now)  # neither assigned nor planned
    reveal(world, manager, world.case_ids[2], pack, now)  # the same day's alert grows; burst
    for n in range(3):
        reveal(world, manager, world.assigned_case, pack, now + WINDOW + timedelta(seconds=n))
    with transaction(world.engine) as session:
        every = session.scalars(select(Alert).order_by(Alert.id)).all()
        assert [a.kind for a in every] == [
            "reveal_unplanned",
            "reveal_burst",  # the first window's third reveal
            "reveal_burst",  # the second window's
            "reveal_ceiling",  # the sixth of the day
        ]
        raised = {a.kind: a for a in every}
        assert raised["reveal_unplanned"].detail["cases"] == [world.other_case, world.case_ids[2]]
        assert raised["reveal_burst"].detail["in_window"] == 3
        assert raised["reveal_ceiling"].detail["today"] == 6
        assert {a.raised_by for a in raised.values()} == {manager.user_id}
        shown = {
            name: {a.kind for a, _ in alerts.open_alerts(session, actor_in(session, name))}
            for name in ("auditor", "admin", "manager_b", "manager_sh", "manager")
        }
        burst_id = raised["reveal_burst"].id
    everything = {"reveal_unplanned", "reveal_burst", "reveal_ceiling"}
    assert shown == {
        "auditor": everything,
        "admin": everything,
        "manager_b": everything,  # another manager of the region
        "manager_sh": set(),  # another region
        "manager": set(),  # never the person the alerts are about
    }
    with transaction(world.engine) as session:
        with pytest.raises(NotFound):
            alerts.resolve(session, actor_in(session, "manager"), burst_id, "fine", now)
        alerts.resolve(session, actor_in(session, "auditor"), burst_id, "asked: court order", now)
    assert count(world.engine, Alert, Alert.resolved_at.is_(None)) == 3


def bulk(world: World, actor: Actor, case_ids: list[int], pack: Pack, now: datetime) -> Any:
    with transaction(world.engine) as session:
        outcome = bulk_reveal.request_reveal(
            session,
            actor,
            cast(Cipher, world.cipher),
            case_ids,
            purpose="complaint_handling",
            pack=pack,
            now=now,
        )
        return outcome.values, outcome.request.id if outcome.request else None


def decide(world: World, username: str, request_id: int, pack: Pack, now: datetime) -> str:
    with transaction(world.engine) as session:
        row = bulk_reveal.decide(
            session, actor_in(session, username), request_id, approve=True, pack=pack, now=now
        )
        return row.status


def use(world: World, actor: Actor, request_id: int, pack: Pack, now: datetime) -> dict[int, str]:
    with transaction(world.engine) as session:
        return bulk_reveal.use(
            session, actor, cast(Cipher, world.cipher), request_id, pack=pack, now=now
        )


def test_a_bulk_request_above_the_threshold_waits_for_another_approver(world: World) -> None:
    pack, now = pack_with(bulk_threshold=2, approval_hours=1), window_start()
    manager = who(world.engine, "manager")
    beijing = [world.assigned_case, world.other_case, world.case_ids[2]]
    values, pending = bulk(world, manager, beijing[:2], pack, now)  # at the threshold: now
    assert pending is None and set(values) == set(beijing[:2])
    values, request_id = bulk(world, manager, beijing, pack, now)  # above: it waits
    assert values is None and request_id is not None
    assert reveals(world.engine) == 2
    with pytest.raises(Conflict, match="not approved"):
        use(world, manager, request_id, pack, now)
    with pytest.raises(Forbidden, match="your own request"):
        decide(world, "manager", request_id, pack, now)
    with pytest.raises(Forbidden):
        decide(world, "verifier", request_id, pack, now)
    with pytest.raises(NotFound):  # its cases are outside this manager's region
        decide(world, "manager_sh", request_id, pack, now)
    with transaction(world.engine) as session:
        waiting = {
            n: bulk_reveal.waiting_for(session, actor_in(session, n))
            for n in ("manager", "manager_b", "auditor")
        }
    assert [len(w) for w in waiting.values()] == [0, 1, 1]
    assert decide(world, "manager_b", request_id, pack, now) == "approved"
    with pytest.raises(Conflict):  # decided once
        decide(world, "auditor", request_id, pack, now)
    with pytest.raises(NotFound):  # only the requester uses it
        use(world, who(world.engine, "manager_b"), request_id, pack, now)
    shown = use(world, manager, request_id, pack, now + timedelta(minutes=5))
    assert set(shown) == set(beijing) and set(shown.values()) <= set(world.id_numbers)
    assert reveals(world.engine) == 5
    with pytest.raises(Conflict):  # once
        use(world, manager, request_id, pack, now)
    # another request, approved by an auditor, is not usable after the approval lapsed
    _, late = bulk(world, manager, beijing, pack, now)
    assert decide(world, "auditor", late, pack, now) == "approved"
    with pytest.raises(Conflict, match="expired"):
        use(world, manager, late, pack, now + timedelta(hours=1, seconds=1))
    # a case outside the region cannot be asked for at all
    with pytest.raises(NotFound):
        bulk(world, manager, [*beijing, world.shanghai_case], pack, now)


def test_the_pages_and_the_api_tell_the_rules_limits_and_take_a_second_approval(
    world: World, tmp_path: Path
) -> None:
    """What a person is told comes from the rule: the case page shows its words, the API's
    429 carries them. A bulk request through the API waits; another manager approves it
    on the alerts page; the requester then gets the national IDs through the API."""
    from fastapi.testclient import TestClient

    from tests.factories.web import make_app, sign_in

    rules = tmp_path / "limits.toml"
    rules.write_text(
        "[rules.CN-REVEAL-QUOTA.params]\nper_window = 7\nalert_after = 7\nbulk_threshold = 2\n"
        "[rules.CN-HOURS]\nenabled = false\n",
        encoding="utf-8",
    )
    app = make_app(world.engine, world, tmp_path, rules_file=rules)
    beijing = [world.assigned_case, world.other_case, world.case_ids[2]]
    with TestClient(app) as manager, TestClient(app) as colleague:
        token = sign_in(manager, "manager")
        page = manager.get(f"/cases/{world.other_case}").text
        assert "每人每 10 分钟最多查看个人信息 7 次" in page and 'id="reveal-limits"' in page
        headers = {"X-CSRF-Token": token}
        asked = manager.post(
            "/api/reveal-requests",
            json={"case_ids": beijing, "purpose": "other", "reason": "法院调取"},
            headers=headers,
        )
        assert asked.status_code == 202 and asked.json()["status"] == "pending"
        request_id = asked.json()["request"]["id"]
        mine = manager.post(
            f"/api/reveal-requests/{request_id}/decision", json={"approve": True}, headers=headers
        )
        assert mine.status_code == 403  # not one's own

        colleague_token = sign_in(colleague, "manager_b")
        inbox = colleague.get("/alerts").text
        assert f'data-request="{request_id}"' in inbox and "法院调取" in inbox
        approved = colleague.post(
            f"/reveal-requests/{request_id}/decide",
            data={"decision": "approve", "csrf_token": colleague_token},
            follow_redirects=False,
        )
        assert approved.status_code == 303
        shown = manager.post(f"/api/reveal-requests/{request_id}/reveal", headers=headers)
        assert shown.status_code == 200
        assert set(shown.json()["values"].values()) <= set(world.id_numbers)
        assert len(shown.json()["values"]) == 3

        for _ in range(7):  # the rate: 7 (bulk reveals above do not count: approved)
            one = manager.post(
                f"/api/cases/{world.other_case}/reveal",
                json={"field": "id_number", "purpose": "borrower_request"},
                headers=headers,
            )
            assert one.status_code == 200, one.text
        refused = manager.post(
            f"/api/cases/{world.other_case}/reveal",
            json={"field": "id_number", "purpose": "borrower_request"},
            headers=headers,
        )
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "reveal_limit"
        assert "每人每 10 分钟最多查看个人信息 7 次" in refused.json()["detail"]
        in_place = manager.post(
            f"/cases/{world.other_case}/reveal",
            data={"field": "id_number", "purpose": "legal"},
            headers={**headers, "HX-Request": "true"},
        )
        assert in_place.status_code == 429 and "最多查看个人信息 7 次" in in_place.text

    with TestClient(app) as auditor:
        sign_in(auditor, "auditor")
        inbox = auditor.get("/alerts").text
        assert 'data-kind="reveal_unplanned"' in inbox and 'data-kind="reveal_burst"' in inbox
        assert "短时间内大量查看个人信息" in inbox and 'href="/alerts"' in inbox
