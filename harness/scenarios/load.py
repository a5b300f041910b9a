"""Loading scenario files: one file, a directory (``DIR/*.yaml``, not ``DIR/runbooks/``), or a list."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.errors import ValidationFailed
from harness.loader import YamlDocument, read_yaml_file, validate_document
from harness.scenarios.models import Scenario

SCENARIO_SUFFIXES = (".yaml", ".yml")


def load_scenario(path: Path) -> Scenario:
    """One scenario file; ValidationFailed with every problem located."""
    document = read_yaml_file(path)
    return validate_document(document, Scenario).with_source(path)


def scenario_files(directory: Path) -> list[Path]:
    """``directory/*.yaml`` and ``*.yml``, sorted; subdirectories (``runbooks/``, ``examples/``) excluded."""
    return sorted(p for p in directory.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file())


def load_scenarios(sources: Path | Iterable[Path]) -> list[Scenario]:
    """Load a directory or a list of files/directories; report all problems of all files together.

    Scenario names must be unique across everything loaded.
    """
    problems: list[str] = []
    paths = _expand(sources, problems)
    loaded: list[tuple[Scenario, YamlDocument]] = []
    for path in paths:
        try:
            document = read_yaml_file(path)
            loaded.append((validate_document(document, Scenario).with_source(path), document))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    problems.extend(line for _, line in duplicate_names(loaded))
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in scenarios", problems)
    return [scenario for scenario, _ in loaded]


def duplicate_names(loaded: Iterable[tuple[Scenario, YamlDocument]]) -> list[tuple[YamlDocument, str]]:
    """One problem line (with its document) per scenario whose name an earlier file already uses."""
    first: dict[str, str] = {}
    problems: list[tuple[YamlDocument, str]] = []
    for scenario, document in loaded:
        if scenario.name in first:
            problems.append((document, document.problem(
                ("name",), f"scenario name {scenario.name!r} is already used by {first[scenario.name]}"
            )))
        else:
            first[scenario.name] = document.source
    return problems


def _expand(sources: Path | Iterable[Path], problems: list[str]) -> list[Path]:
    items = [sources] if isinstance(sources, Path) else list(sources)
    paths: list[Path] = []
    for item in items:
        if item.is_dir():
            try:
                paths.extend(scenario_files(item))
            except OSError as exc:
                problems.append(f"{item}:1:1: (file): cannot list directory: {exc.strerror or exc}")
        else:
            paths.append(item)  # a missing file is reported by the loader, with its name
    return paths
