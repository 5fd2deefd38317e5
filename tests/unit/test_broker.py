"""A step that hands tasks to the workers is done only when every task reported."""

from __future__ import annotations

import pytest

from doorstep.domain.errors import TasksFailed
from doorstep.integrations.broker import reported


def test_every_task_reported_gives_the_results_in_order() -> None:
    results = reported("planning", ["北京市", "上海市"], [{"plan": 1}, {"plan": 2}])
    assert results == [{"plan": 1}, {"plan": 2}]


def test_a_failed_or_missing_task_fails_the_step_naming_each() -> None:
    with pytest.raises(TasksFailed) as failed:
        reported("planning", ["北京市", "上海市", "广州市"], [{"plan": 1}, ValueError("no teams")])
    message = str(failed.value)
    assert "2 of 3" in message and "上海市, 广州市" in message and "ValueError: no teams" in message
    assert "北京市" not in message.split("failed:")[1].split("(")[0]
