"""`drillctl run`, `list`-adjacent helpers, `gate` and `halt`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from rich.console import Console

from harness.errors import HarnessError

console = Console(stderr=True)


def _plan(scenario_path: Path) -> list[str]:
    from harness.runbooks.catalog import load_runbooks
    from harness.scenarios.load import load_scenario

    s = load_scenario(scenario_path)
    lines = [
        f"scenario {s.name} ({s.schedule.value}, {s.severity.value}): {s.description.strip()}",
        f"  fault: {s.fault.kind} {s.fault.params} for at most {s.fault.max_duration_seconds:g}s",
        f"  expected alerts: {', '.join(s.expect.alerts) or '(none)'}",
        f"  runbook: {s.expect.runbook or '(manual response: fault reverted after its duration)'}",
    ]
    if s.expect.runbook:
        runbook = load_runbooks()[s.expect.runbook]
        for section in ("steps", "rollback", "restore"):
            for step in getattr(runbook, section):
                lines.append(f"    {section}: {step.id} [{step.kind}]")
    t = s.thresholds
    lines.append(
        f"  thresholds: MTTD<={t.max_mttd_seconds}s MTTN<={t.max_mttn_seconds}s "
        f"MTTR<={t.max_mttr_seconds}s rollback_required={t.rollback_required} "
        f"max_lost_writes={t.max_lost_writes}"
    )
    return lines


def _resolve(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return Path("scenarios") / f"{name}.yaml"


@click.command("run")
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (fault, runbook steps, thresholds); touch nothing."
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Run each drill N times; the summary gives median and p90.",
)
@click.option(
    "--stack",
    "stack_kind",
    type=click.Choice(["auto", "local", "docker"]),
    default="local",
    show_default=True,
)
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option("--allow-remote", is_flag=True, help="Allow scenarios that opted in to aim beyond loopback.")
@click.option(
    "--strict-confirm", is_flag=True, help="Refuse runbook confirm steps instead of auto-approving."
)
@click.option(
    "--load-workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Locust distributed mode: a master and N workers (default: the scenario's setting).",
)
def run(
    scenarios: tuple[str, ...],
    dry_run: bool,
    repeat: int,
    stack_kind: str,
    report_dir: Path,
    allow_remote: bool,
    strict_confirm: bool,
    load_workers: int | None,
) -> None:
    """Run drills: SCENARIO is a name under scenarios/ or a YAML path."""
    from harness.cli.stack_cmds import build_stack, new_run_dir
    from harness.drill.context import DrillOptions
    from harness.drill.repeat import distribution_lines
    from harness.drill.session import DrillSession
    from harness.drill.summary import summary_lines
    from harness.paths import state_dir
    from harness.runbooks.catalog import load_runbooks
    from harness.scenarios.load import load_scenario

    paths = [_resolve(s) for s in scenarios]
    try:
        loaded = [load_scenario(p) for p in paths]
        if dry_run:
            for p in paths:
                click.echo("\n".join(_plan(p)))
            return
        runbooks = load_runbooks()
        stack = build_stack(stack_kind, new_run_dir(state_dir()))
    except HarnessError as exc:
        raise click.ClickException(str(exc)) from exc
    status = console.status("starting the stack")
    options = DrillOptions(
        report_dir=report_dir,
        allow_remote=allow_remote,
        strict_confirm=strict_confirm,
        load_workers=load_workers,
        progress=lambda name, phase: status.update(f"{name}: {phase}"),
    )
    session: DrillSession | None = None
    index: Path | None = None
    with status:
        try:
            stack.up()
            session = DrillSession(stack, runbooks, options)
            for scenario in loaded:
                for i in range(1, repeat + 1):
                    result = session.run(scenario, i)
                    console.print(f"{scenario.name} #{i}: {result.verdict.value}")
        except HarnessError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            if session is not None and session.results.drills:  # what ran is kept, whatever broke
                index = session.finish()
            stack.down()
    assert session is not None
    lines = summary_lines(session.results.drills)
    if repeat > 1:
        lines += distribution_lines(session.results.drills)
    click.echo("\n".join(lines))
    click.echo(f"results: {session.run_dir / 'results.json'}")
    click.echo(f"report: {index}")
    if any(r.verdict.value != "pass" for r in session.results.drills):
        raise SystemExit(1)


@click.command()
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A committed baseline (results.json or {scenario: {mttd_seconds, mttr_seconds}}).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1000),
    default=20.0,
    show_default=True,
    help="Allowed MTTD/MTTR regression in percent.",
)
def gate(report_dir: Path, baseline: Path | None, tolerance: float) -> None:
    """Compare the latest run with a baseline; exit 1 on a breach or a regression."""
    from harness.gate import run_gate

    try:
        report = run_gate(report_dir, baseline=baseline, tolerance_pct=tolerance)
    except HarnessError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(report.lines()))
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.option("--clear", is_flag=True, help="Remove the kill switch so drills may run again.")
def halt(clear: bool) -> None:
    """Global kill switch: abort every running drill and revert its faults within seconds."""
    from harness.drill.context import halt_file

    path = halt_file()
    if clear:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        click.echo(f"kill switch cleared ({path})")
        return
    path.write_text("halted by drillctl halt\n")
    click.echo(
        f"kill switch set: {path}; running drills abort and revert. `drillctl halt --clear` to re-arm."
    )
