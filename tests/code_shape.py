"""The shape limits the code keeps (issue: a newcomer can hold each piece): module and
function sizes, every query in store/, time from the Clock in services/.

Run `python -m tests.code_shape` to print the longest modules and functions; the tests in
tests/unit/test_code_shape.py hold the limits."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "doorstep"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60  # the body: signature and docstring not counted
GENERATED = ("store/migrations/versions/",)

QUERY_BUILDERS = frozenset({"select", "insert", "update", "delete", "text", "func", "union_all"})
"""SQLAlchemy names that build a statement: only store/ may import them."""
QUERY_RUNNERS = frozenset({"execute", "scalar", "scalars", "exec_driver_sql"})
"""Session/connection methods that run a statement: only store/ may call them."""


@dataclass(frozen=True)
class Sized:
    lines: int
    where: str


def modules() -> Iterator[tuple[str, ast.Module, int]]:
    """(path relative to src/doorstep, parsed module, line count) of every hand-written module."""
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(GENERATED):
            continue
        text = path.read_text(encoding="utf-8")
        yield relative, ast.parse(text), len(text.splitlines())


def function_sizes(tree: ast.Module, relative: str) -> Iterator[Sized]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if body:
            lines = (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1
            yield Sized(lines, f"{relative}:{node.lineno} {node.name}")


def longest(top: int = 15) -> tuple[list[Sized], list[Sized]]:
    mods, funcs = [], []
    for relative, tree, lines in modules():
        mods.append(Sized(lines, relative))
        funcs += function_sizes(tree, relative)
    key = lambda s: -s.lines  # noqa: E731
    return sorted(mods, key=key)[:top], sorted(funcs, key=key)[:top]


def queries_outside_store() -> list[str]:
    """Each statement builder imported, or statement run, outside store/."""
    found = []
    for relative, tree, _ in modules():
        if relative.startswith("store/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                found += [
                    f"{relative}:{node.lineno} imports {a.name} from {node.module}"
                    for a in node.names
                    if a.name in QUERY_BUILDERS
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_RUNNERS
            ):
                found.append(f"{relative}:{node.lineno} calls .{node.func.attr}()")
    return found


def clock_reads_in_services() -> list[str]:
    """`datetime.now()`/`date.today()`/`datetime.utcnow()` in services/ (the Clock port is
    passed in instead)."""
    found = []
    for relative, tree, _ in modules():
        if not relative.startswith("services/"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"now", "today", "utcnow"}
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"datetime", "date"}
            ):
                found.append(f"{relative}:{node.lineno} {node.func.value.id}.{node.func.attr}()")
    return found


if __name__ == "__main__":
    mods, funcs = longest()
    print(f"longest modules (limit {MAX_MODULE_LINES} lines):")
    for s in mods:
        print(f"  {s.lines:5d}  {s.where}")
    print(f"longest function bodies (limit {MAX_FUNCTION_LINES} lines):")
    for s in funcs:
        print(f"  {s.lines:5d}  {s.where}")
