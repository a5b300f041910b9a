"""``drillctl cleanup``: revert every fault the ledger shows as still active."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.errors import FaultLedgerError
from harness.faults.heal import HealOutcome, HealReport, heal
from harness.faults.ledger import FaultLedger

__all__ = ["HealReport", "cleanup", "heal"]


@click.command("cleanup")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="fault ledger (default: $DRILL_STATE_DIR/faults.jsonl)")
@click.option("--force", is_flag=True, help="also revert faults whose harness process is still alive")
@click.option("--timeout", "ready_timeout_s", type=float, default=60.0, show_default=True,
              help="seconds to wait for each service to be ready again")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def cleanup(ledger_path: Path | None, force: bool, ready_timeout_s: float, as_json: bool) -> None:
    """Revert every fault still active in the fault ledger (expired ones first)."""
    try:
        ledger = FaultLedger(ledger_path)
        report = heal(ledger, force=force, ready_timeout_s=ready_timeout_s)
    except FaultLedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([
            {"id": i.id, "kind": i.kind, "run_dir": i.run_dir, "expired": i.expired,
             "outcome": i.outcome.value, "note": i.note}
            for i in report.items
        ], indent=2))
    elif not report.items:
        click.echo(f"fault ledger {ledger.path}: nothing to clean up")
    else:
        for item in report.items:
            mark = {HealOutcome.FAILED: "FAILED", HealOutcome.SKIPPED: "skipped"}.get(item.outcome, "ok")
            click.echo(f"{mark:8} {item.kind:26} {item.id}  {item.outcome.value}: {item.note}")
    if not report.ok:
        raise SystemExit(1)
