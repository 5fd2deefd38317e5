"""The code's shape limits (tests/code_shape.py): later work keeps them."""

from __future__ import annotations

from tests import code_shape


def test_no_module_over_the_line_limit() -> None:
    mods, _ = code_shape.longest(top=1_000)
    over = [f"{s.where} ({s.lines})" for s in mods if s.lines > code_shape.MAX_MODULE_LINES]
    assert over == []


def test_no_function_body_over_the_line_limit() -> None:
    _, funcs = code_shape.longest(top=100_000)
    over = [f"{s.where} ({s.lines})" for s in funcs if s.lines > code_shape.MAX_FUNCTION_LINES]
    assert over == []


def test_every_query_is_in_store() -> None:
    assert code_shape.queries_outside_store() == []


def test_services_take_the_time_from_a_clock() -> None:
    assert code_shape.clock_reads_in_services() == []


def test_the_checks_see_the_code() -> None:
    """The walkers find what they look for (a check that reads nothing passes anything)."""
    mods, funcs = code_shape.longest(top=5)
    assert len(mods) == 5 and mods[0].lines > 100 and funcs[0].lines > 10
    assert any(r.startswith("store/") for r, _, _ in code_shape.modules())
