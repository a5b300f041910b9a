"""Loading the runbook files of a directory."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ValidationFailed
from harness.loader import load_model
from harness.paths import repo_root
from harness.runbooks.models import Runbook


def default_dir() -> Path:
    """``scenarios/runbooks`` of the checkout."""
    return repo_root() / "scenarios" / "runbooks"


def load_runbooks(directory: Path | None = None) -> dict[str, Runbook]:
    """Every ``*.yaml``/``*.yml`` of ``directory`` by id.

    Raises one :class:`ValidationFailed` listing the problems of *all* files (each
    ``FILE:LINE:COL: path: message``), including ids used by two files.
    """
    directory = directory or default_dir()
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    runbooks: dict[str, Runbook] = {}
    origin: dict[str, Path] = {}
    problems: list[str] = []
    if not directory.is_dir():
        raise ValidationFailed(f"{directory}: no such runbook directory")
    for path in paths:
        try:
            runbook = load_model(path, Runbook)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        if runbook.id in runbooks:
            problems.append(f"{path}:1:1: id: runbook id {runbook.id!r} is also used by {origin[runbook.id]}")
            continue
        runbooks[runbook.id], origin[runbook.id] = runbook, path
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in {directory}", problems)
    return runbooks
