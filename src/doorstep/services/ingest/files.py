"""The delivery's files: finding them, their digests, and the report of a rejected batch
(personal data masked: reports are files that travel)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from doorstep.domain.identity import mask_id_number
from doorstep.integrations.spreadsheet import SafeWriter
from doorstep.services.conduct.personal_data import mask_contact
from doorstep.services.ingest.contracts import ORDER, SPECS
from doorstep.services.ingest.validate import Problem

SUFFIXES = (".csv", ".parquet")


def discover(paths: Sequence[Path]) -> tuple[dict[str, Path], list[Problem]]:
    """Map entity -> file from folders and files; a file is named after its entity."""
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    candidates: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        elif path.exists():
            candidates.append(path)
        else:
            problems.append(Problem(str(path), None, "", "", "no such file or folder"))
    for path in candidates:
        entity = path.stem.lower()
        if entity not in SPECS:
            if path.parent not in paths:  # named explicitly: say why it is not read
                problems.append(
                    Problem(
                        path.name,
                        None,
                        "",
                        "",
                        "unknown file name; expected " + ", ".join(f"{e}.csv" for e in ORDER),
                    )
                )
            continue
        if entity in found:
            problems.append(Problem(path.name, None, "", "", f"a second {entity} file"))
            continue
        found[entity] = path
    if not found and not problems:
        problems.append(Problem("", None, "", "", "no ingest files found"))
    return found, problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


SENSITIVE = {("customers", "id_number"), ("contacts", "value"), ("addresses", "text")}


def masked_problem(problem: Problem, files: dict[str, Path]) -> Problem:
    """Reports are files that travel: they show personal data masked, like the pages."""
    entity = next((e for e, p in files.items() if p.name == problem.file), None)
    if (entity, problem.column) not in SENSITIVE or not problem.value:
        return problem
    value = problem.value
    masked = (
        mask_id_number(value)
        if problem.column == "id_number"
        else mask_contact("address" if entity == "addresses" else "phone", value)
    )
    return replace(problem, value=masked)


def write_problem_report(problems: Sequence[Problem], folder: Path, now: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"ingest-rejected-{stamp}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = SafeWriter(handle)
        writer.writerow(["file", "line", "column", "value", "reason"])
        for p in problems:
            writer.writerow([p.file, "" if p.line is None else p.line, p.column, p.value, p.reason])
    return path
