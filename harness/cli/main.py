"""drillctl: the command line."""

from __future__ import annotations

import click

from harness.cli.cleanup import cleanup
from harness.cli.report import report
from harness.cli.run_cmds import gate, halt, run
from harness.cli.runbook import ledger, runbook
from harness.cli.scenarios import list_scenarios, validate
from harness.cli.stack_cmds import down, up


@click.group()
@click.version_option(package_name="chaos-drill-harness")
def cli() -> None:
    """Rehearse incidents: bring up the stack, inject faults, measure MTTD/MTTR."""


for command in (up, down, list_scenarios, run, validate, report, gate, cleanup, halt, runbook, ledger):
    cli.add_command(command)


def main() -> None:
    cli()
