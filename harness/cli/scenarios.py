"""``drillctl validate PATH...`` and ``drillctl list [DIR]``.

The lead wires both commands into ``drillctl``::

    from harness.cli.scenarios import list_scenarios, validate
    cli.add_command(validate)
    cli.add_command(list_scenarios)

``validate`` checks scenario and runbook files (a directory is searched
recursively; a file under a ``runbooks/`` directory, or whose top level has
``id:`` and ``steps:``, is a runbook). Problems go to stderr, one line each
(``FILE:LINE:COL: path: message``); exit status 1 on any problem, 2 on an
internal error, never a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from harness.errors import ConfigError, HarnessError, ValidationFailed
from harness.loader import YamlDocument, read_yaml_file, validate_document
from harness.paths import repo_root
from harness.scenarios.load import SCENARIO_SUFFIXES, duplicate_names, load_scenarios
from harness.scenarios.models import Scenario, ScenarioThresholds

EXIT_PROBLEMS = 1
EXIT_INTERNAL = 2


@dataclass
class _Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scenarios: list[tuple[Scenario, YamlDocument]] = field(default_factory=list)
    runbook_ids: set[str] | None = None
    failed: set[str] = field(default_factory=set)

    def cross_problem(self, document: YamlDocument, line: str) -> None:
        self.problems.append(line)
        self.failed.add(document.source)


def _guarded(body: Callable[[], int]) -> int:
    """Run a command body: HarnessError -> its problem lines and 1; anything else -> one line and 2."""
    try:
        return body()
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        return EXIT_PROBLEMS
    except HarnessError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        return EXIT_PROBLEMS
    except Exception as exc:  # the promise is: no traceback, ever
        click.echo(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", err=True)
        return EXIT_INTERNAL


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check scenario and runbook files (or directories of them) without running anything."""
    code = _guarded(lambda: _validate(paths))
    ctx.exit(code)


def _validate(paths: Iterable[Path]) -> int:
    report = _Report()
    for path in _files(paths, report):
        _validate_file(path, report)
    for document, line in duplicate_names(report.scenarios):
        report.cross_problem(document, line)
    if report.runbook_ids is not None:
        for scenario, document in report.scenarios:
            wanted = scenario.expect.runbook
            if wanted is not None and wanted not in report.runbook_ids:
                known = ", ".join(sorted(report.runbook_ids)) or "none"
                message = f"no runbook {wanted!r} among the runbooks checked (known: {known})"
                report.cross_problem(document, document.problem(("expect", "runbook"), message))
    for source in report.ok:
        if source not in report.failed:
            click.echo(f"OK {source}")
    for problem in report.problems:
        click.echo(problem, err=True)
    return EXIT_PROBLEMS if report.problems else 0


def _files(paths: Iterable[Path], report: _Report) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            try:
                found = sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file())
            except OSError as exc:
                report.problems.append(f"{path}:1:1: (file): cannot list directory: {exc.strerror or exc}")
                continue
            if not found:
                report.problems.append(f"{path}:1:1: (file): no .yaml or .yml files in this directory")
            files.extend(found)
        else:
            files.append(path)
    return files


def _validate_file(path: Path, report: _Report) -> None:
    try:
        document = read_yaml_file(path)
        if _is_runbook(path, document):
            runbook_model = _runbook_model()
            if runbook_model is not None:
                runbook = validate_document(document, runbook_model)
                if report.runbook_ids is None:
                    report.runbook_ids = set()
                report.runbook_ids.add(str(getattr(runbook, "id", "")))
        else:
            scenario = validate_document(document, Scenario).with_source(path)
            report.scenarios.append((scenario, document))
    except ValidationFailed as exc:
        report.problems.extend(exc.problems)
        return
    report.ok.append(document.source)


def _is_runbook(path: Path, document: YamlDocument) -> bool:
    if path.parent.name == "runbooks":
        return True
    data = document.data
    return isinstance(data, dict) and "id" in data and "steps" in data


def _runbook_model() -> type[BaseModel] | None:
    module = _optional_module("harness.runbooks.models")
    model = getattr(module, "Runbook", None) if module is not None else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


@click.command("list")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=None)
@click.pass_context
def list_scenarios(ctx: click.Context, directory: Path | None) -> None:
    """List the scenarios in DIRECTORY (default: scenarios/) with fault, runbook and thresholds."""
    code = _guarded(lambda: _list(directory if directory is not None else default_scenarios_dir()))
    ctx.exit(code)


def default_scenarios_dir() -> Path:
    """``./scenarios`` when it exists, else the checkout's ``scenarios/``."""
    here = Path("scenarios")
    return here if here.is_dir() else repo_root() / "scenarios"


def _list(directory: Path) -> int:
    if not directory.is_dir():
        click.echo(f"{directory}:1:1: (file): not a directory", err=True)
        return EXIT_PROBLEMS
    scenarios = load_scenarios(directory)
    table = Table(title=f"Scenarios in {directory}")
    for column in ("name", "schedule", "severity", "fault", "runbook"):
        table.add_column(column, no_wrap=True)
    table.add_column("thresholds", overflow="fold")
    for scenario in sorted(scenarios, key=lambda s: (s.schedule, s.name)):
        table.add_row(
            scenario.name,
            scenario.schedule.value,
            scenario.severity.value,
            f"{scenario.fault.kind} ≤{scenario.fault.max_duration_seconds:g}s",
            scenario.expect.runbook or "manual",
            describe_thresholds(scenario.thresholds),
        )
    console = Console()
    if not console.is_terminal:  # a pipe or a file: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(table)
    if not scenarios:
        click.echo(f"no scenarios in {directory}", err=True)
    return 0


def describe_thresholds(thresholds: ScenarioThresholds) -> str:
    """``MTTD≤30s MTTR≤120s rollback lost≤0``."""
    parts = [
        f"{label}≤{value:g}s"
        for label, value in (
            ("MTTD", thresholds.max_mttd_seconds),
            ("MTTN", thresholds.max_mttn_seconds),
            ("MTTR", thresholds.max_mttr_seconds),
        )
        if value is not None
    ]
    if thresholds.rollback_required:
        parts.append("rollback")
    parts.append(f"lost≤{thresholds.max_lost_writes}")
    return " ".join(parts)
