"""drillctl: the command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="chaos-drill-harness")
def cli() -> None:
    """Rehearse incidents: bring up the stack, inject faults, measure MTTD/MTTR."""


def main() -> None:
    cli()
