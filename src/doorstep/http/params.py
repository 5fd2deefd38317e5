"""Parameters every route declares the same way.

A row id in a path fits the INTEGER key it names (`domain.bounds.INT32`): past it, the
answer is a 422 that says so, not a driver's overflow (`tests/integration/test_page_fuzz.py`
and `tests/api/test_fuzz.py` aim past it; `tests/api/test_bounds.py` checks every numeric
parameter of every route is bounded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from doorstep.domain.bounds import INT32

RowId = Annotated[int, Path(ge=1, le=INT32, description="a row's id")]
