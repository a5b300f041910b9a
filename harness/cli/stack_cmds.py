"""`drillctl up` / `drillctl down`: a stack to look at while drilling."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click
from rich.console import Console
from rich.table import Table

from harness.errors import HarnessError
from harness.paths import state_dir
from harness.stack.base import Service, Stack
from harness.stack.procs import terminate_pids

console = Console(stderr=True)


def current_stack_file() -> Path:
    return state_dir() / "current-stack"


def new_run_dir(base: Path, prefix: str = "stack") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = base / f"{prefix}-{stamp}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_stack(kind: str, run_dir: Path) -> Stack:
    """Resolve --stack auto|local|docker into a stack object (not started)."""
    from harness.stack.select import select_backend

    backend = select_backend(kind)
    if backend.backend == "docker":
        from harness.stack.docker import DockerStack

        return DockerStack(run_dir=run_dir)
    from harness.stack.local import LocalSettings, LocalStack

    return LocalStack(LocalSettings(run_dir=run_dir))


def endpoints_table(stack: Stack) -> Table:
    table = Table(title=f"{stack.backend} stack — {stack.run_dir}")
    table.add_column("service")
    table.add_column("endpoint")
    table.add_column("direct")
    for service in stack.services():
        try:
            ep, direct = stack.endpoint(service), stack.direct_endpoint(service)
        except HarnessError as exc:
            table.add_row(service.value, f"({exc})", "")
            continue
        table.add_row(service.value, ep.url, direct.url if direct != ep else "")
    if not stack.has(Service.GRAFANA):
        table.caption = "Grafana is part of the Docker stack only (`--stack docker`)."
    return table


@click.command()
@click.option(
    "--stack",
    "stack_kind",
    default="local",
    show_default=True,
    type=click.Choice(["auto", "local", "docker"]),
    help="Which backend to bring up.",
)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where configs, data and logs go (default: .drill/stack-<time>).",
)
def up(stack_kind: str, run_dir: Path | None) -> None:
    """Bring the stack up and keep it running until Ctrl-C (or `drillctl down`)."""
    run_dir = run_dir or new_run_dir(state_dir())
    try:
        stack = build_stack(stack_kind, run_dir)
    except HarnessError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.up()
        current_stack_file().write_text(str(stack.run_dir))
        console.print(endpoints_table(stack))
        console.print("Admin token and receiver token: see stack.json (mode 0600) in the run directory.")
        console.print("Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except HarnessError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        stack.down()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        current_stack_file().unlink(missing_ok=True)
        console.print("stack stopped")


@click.command()
def down() -> None:
    """Stop the stack started by `drillctl up` (from its recorded PIDs)."""
    marker = current_stack_file()
    if not marker.exists():
        console.print("no stack recorded as running")
        return
    run_dir = Path(marker.read_text().strip())
    state_file = run_dir / "stack.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        harness_pid = int(state.get("harness_pid", 0))
        recorded_at = float(state.get("written_at", 0.0)) or None
        if harness_pid:  # `drillctl up` tears its own stack down on SIGTERM
            terminate_pids([harness_pid], timeout=15.0, group=False, recorded_at=recorded_at)
        if state.get("backend") == "docker":
            from harness.stack.docker import DockerStack

            DockerStack(run_dir=run_dir).down()
        else:
            pids = [int(p) for p in state.get("pids", {}).values()]
            stopped = terminate_pids(pids, recorded_at=recorded_at)
            console.print(f"stopped {len(stopped)} leftover process group(s)")
    marker.unlink(missing_ok=True)
