"""``drillctl report [RUN] [--trend]``: regenerate a run's HTML report from its results."""

from __future__ import annotations

from pathlib import Path

import click

from harness.errors import ConfigError
from harness.report.history import HISTORY_FILE
from harness.report.render import RESULTS_FILE, render_run, render_trend


def resolve_run_dir(run: str | None, reports_dir: Path) -> Path:
    """RUN is a run directory, a results.json or a run id under ``reports_dir``; default: ``latest``."""
    if run is None:
        candidate = reports_dir / "latest"
    else:
        path = Path(run)
        if path.is_file() and path.name == RESULTS_FILE:
            candidate = path.parent
        elif path.is_dir():
            candidate = path
        else:
            candidate = reports_dir / run
    if not (candidate / RESULTS_FILE).is_file():
        raise click.ClickException(
            f"no {RESULTS_FILE} found in {candidate} (give a run id, a run directory or a results.json)"
        )
    return candidate.resolve()


@click.command("report")
@click.argument("run", required=False)
@click.option(
    "--reports-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where runs, latest and history.jsonl live.",
)
@click.option("--trend", is_flag=True, help=f"Also render trend.html from {HISTORY_FILE}.")
def report(run: str | None, reports_dir: Path, trend: bool) -> None:
    """Regenerate the HTML report of RUN (run id or path; default: latest run) and print its path."""
    try:
        if trend:
            click.echo(str(render_trend(reports_dir)))
        if run is not None or not trend or (reports_dir / "latest").exists():
            click.echo(str(render_run(resolve_run_dir(run, reports_dir))))
    except ConfigError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
