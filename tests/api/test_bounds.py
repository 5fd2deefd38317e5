"""Every number a route takes (path, query, form or JSON body, of the API and the pages)
declares its range, read from the app itself: a value past it is a 422 that says so,
never a driver's overflow. Text that holds numbers or dates is parsed by hand through
`domain.bounds`; the page fuzzer (tests/integration/test_page_fuzz.py) and the API fuzzer
(tests/api/test_fuzz.py) aim hostile values at those."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from fastapi import FastAPI, routing
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from doorstep.app import create_app
from doorstep.config import Settings

NUMBERS = (int, float)


def _bare(annotation: Any) -> Any:
    """`int | None` -> int; anything else as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner[0] if len(inner) == 1 else annotation
    return annotation


def _fields(name: str, info: FieldInfo) -> Iterator[tuple[str, FieldInfo]]:
    """The field, or a JSON body's fields, recursively."""
    bare = _bare(info.annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        for inner, field in bare.model_fields.items():
            yield from _fields(f"{name}.{inner}", field)
    else:
        yield name, info


def _params(dependant: Any) -> Iterator[tuple[str, FieldInfo]]:
    for kind in ("path_params", "query_params", "body_params", "header_params"):
        for param in getattr(dependant, kind):
            yield from _fields(param.name, param.field_info)
    for sub in dependant.dependencies:
        yield from _params(sub)


def numeric_params(app: FastAPI) -> Iterator[tuple[str, str, FieldInfo]]:
    for context in routing.iter_route_contexts(app.routes):
        dependant = getattr(context.original_route, "dependant", None)
        if dependant is None:
            continue
        for method in sorted(context.methods or ()):
            for name, info in _params(dependant):
                if _bare(info.annotation) in NUMBERS and _bare(info.annotation) is not bool:
                    yield f"{method} {context.path}", name, info


def _bounded(info: FieldInfo) -> bool:
    low = any(isinstance(m, Ge | Gt) for m in info.metadata)
    high = any(isinstance(m, Le | Lt) for m in info.metadata)
    return low and high


def test_every_number_a_route_takes_is_bounded(tmp_path: Path) -> None:
    app = create_app(  # the routes only: no database is opened
        Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.db'}"),
        migrate_schema=False,
    )
    found = list(numeric_params(app))
    assert len(found) >= 40, found  # the walk reaches path, query, form and body numbers
    names = {(route, name) for route, name, _ in found}
    assert ("GET /cases/{case_id}", "case_id") in names
    assert ("POST /api/cases/{case_id}/actions", "body.version") in names
    assert ("POST /plans/{plan_id}/move", "stop_id") in names
    unbounded = [(route, name) for route, name, info in found if not _bounded(info)]
    assert unbounded == [], f"numbers without a range: {unbounded}"
