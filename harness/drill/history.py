"""The run history: reports/history.jsonl, one DrillResult per line, append-only."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from harness.drill.results import DrillResult


def history_path(report_dir: Path) -> Path:
    return report_dir / "history.jsonl"


def append(report_dir: Path, results: list[DrillResult]) -> None:
    path = history_path(report_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(r.model_dump_json(exclude={"timeline", "steps"}) + "\n" for r in results)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(report_dir: Path) -> list[DrillResult]:
    """Every readable record; a torn or foreign line is skipped, not fatal."""
    path = history_path(report_dir)
    if not path.exists():
        return []
    out: list[DrillResult] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(DrillResult.model_validate(json.loads(line)))
        except (ValueError, ValidationError):
            continue
    return out
