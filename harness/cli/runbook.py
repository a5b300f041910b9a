"""``drillctl runbook list|show|run`` and ``drillctl ledger verify``.

The lead wires both groups into ``drillctl``::

    from harness.cli.runbook import ledger, runbook
    cli.add_command(runbook)
    cli.add_command(ledger)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import httpx

from harness.clock import SYSTEM_CLOCK
from harness.errors import AuditLedgerError, HarnessError, ValidationFailed
from harness.faults.attach import attach_stack
from harness.receiver.models import AlertPayload
from harness.runbooks import audit
from harness.runbooks.catalog import load_runbooks
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.engine import RunbookEngine, RunbookRun, RunOutcome
from harness.runbooks.models import Runbook, Section
from harness.runbooks.remote import EndpointStack, endpoint_from_url
from harness.stack.base import Credentials, Endpoint, Service, Stack

_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Runbook directory (default: scenarios/runbooks).",
)


def _load(directory: Path | None) -> dict[str, Runbook]:
    try:
        return load_runbooks(directory)
    except ValidationFailed as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.exceptions.Exit(2) from exc


def _get(runbooks: dict[str, Runbook], runbook_id: str) -> Runbook:
    if runbook_id not in runbooks:
        known = ", ".join(sorted(runbooks)) or "none"
        raise click.BadParameter(f"no runbook {runbook_id!r} (known: {known})", param_hint="ID")
    return runbooks[runbook_id]


@click.group("runbook")
def runbook() -> None:
    """Runbooks as code: list, show and run them (dry run by default is NOT assumed)."""


@runbook.command("list")
@_DIR
def list_cmd(directory: Path | None) -> None:
    """One line per runbook: id, severity, automation, expected recovery, triggers."""
    for rb in sorted(_load(directory).values(), key=lambda r: r.id):
        triggers = ", ".join(t.alert for t in rb.triggers) or "-"
        click.echo(
            f"{rb.id:32} {rb.severity.value:5} {rb.automation.value:15} "
            f"{rb.expected_recovery_seconds:>6.0f}s  {triggers}"
        )


@runbook.command("show")
@click.argument("runbook_id", metavar="ID")
@_DIR
def show_cmd(runbook_id: str, directory: Path | None) -> None:
    """The runbook as validated (JSON)."""
    rb = _get(_load(directory), runbook_id)
    click.echo(json.dumps(rb.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2))


def _stack(
    stack_file: Path | None,
    target_url: str | None,
    prometheus_url: str | None,
    fault_proxy_url: str | None,
    admin_token_env: str,
) -> Stack | None:
    if stack_file is not None:
        try:
            attached = attach_stack(stack_file.parent)
        except HarnessError as exc:
            raise click.BadParameter(str(exc), param_hint="--stack-file") from exc
        if attached is None:
            raise click.BadParameter(f"no running stack recorded in {stack_file}", param_hint="--stack-file")
        return attached
    endpoints: dict[Service, Endpoint] = {}
    for service, url in (
        (Service.TARGET, target_url),
        (Service.PROMETHEUS, prometheus_url),
        (Service.FAULT_PROXY, fault_proxy_url),
    ):
        if url:
            endpoints[service] = endpoint_from_url(url)
    if not endpoints:
        return None
    token = os.environ.get(admin_token_env, "")
    return EndpointStack(endpoints, Credentials(admin_token=token, receiver_token=""))


def _alert(rb: Runbook, labels: tuple[str, ...]) -> AlertPayload | None:
    if not labels and not rb.triggers:
        return None
    parsed: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--label")
        parsed[key] = value
    if rb.triggers:
        parsed.setdefault("alertname", rb.triggers[0].alert)
    return AlertPayload.model_validate(
        {"status": "firing", "labels": parsed, "startsAt": SYSTEM_CLOCK.now(), "fingerprint": "manual-run"}
    )


def _echo_run(run: RunbookRun) -> None:
    if run.dry_run:
        click.echo(f"DRY RUN of {run.runbook} (nothing was touched); plan:")
        for planned in run.plan:
            phase = f" [{planned.phase}]" if planned.phase else ""
            line = f"  {planned.section.value:8} {planned.id:28}{phase} {planned.summary}"
            click.echo(line + (f"\n           ! {planned.problem}" if planned.problem else ""))
        return
    for record in run.steps:
        click.echo(
            f"  {record.step:28} {record.kind:15} {record.outcome:9} x{record.attempts}  {record.output}"
        )
    rollback = f", rolled back (ok={run.rollback_ok})" if run.rolled_back else ""
    click.echo(f"{run.runbook}: {run.outcome.value}{rollback}" + (f": {run.error}" if run.error else ""))


@runbook.command("run")
@click.argument("runbook_id", metavar="ID")
@_DIR
@click.option("--dry-run", is_flag=True, help="Print the resolved plan; touch nothing.")
@click.option("--section", type=click.Choice([s.value for s in Section]), default=Section.STEPS.value)
@click.option("--label", "labels", multiple=True, help="Alert label key=value for templating (repeatable).")
@click.option(
    "--stack-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="stack.json of a running local stack (endpoints and credentials; no process control).",
)
@click.option("--target-url", help="The target (admin API) base URL.")
@click.option("--prometheus-url", help="Prometheus base URL (for wait_for promql steps).")
@click.option("--fault-proxy-url", help="Fault proxy admin API base URL.")
@click.option(
    "--admin-token-env",
    default="DEMO_ADMIN_TOKEN",
    show_default=True,
    help="Environment variable holding the target's admin token.",
)
@click.option("--notify", "notify", multiple=True, help="Notify target name=URL (repeatable).")
@click.option("--strict", is_flag=True, help="Refuse every confirm step.")
@click.option("--yes", is_flag=True, help="Approve every confirm step without asking.")
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audit ledger (default: state dir/audit.jsonl).",
)
def run_cmd(
    runbook_id: str,
    directory: Path | None,
    dry_run: bool,
    section: str,
    labels: tuple[str, ...],
    stack_file: Path | None,
    target_url: str | None,
    prometheus_url: str | None,
    fault_proxy_url: str | None,
    admin_token_env: str,
    notify: tuple[str, ...],
    strict: bool,
    yes: bool,
    ledger_path: Path | None,
) -> None:
    """Run one runbook (or print its plan with --dry-run)."""
    rb = _get(_load(directory), runbook_id)
    targets: dict[str, NotifyTarget] = {}
    for item in notify:
        name, sep, url = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not name=URL", param_hint="--notify")
        targets[name] = NotifyTarget(url)
    stack = _stack(stack_file, target_url, prometheus_url, fault_proxy_url, admin_token_env)
    if stack is not None and stack.has(Service.RECEIVER) and "oncall" not in targets:
        receiver = stack.endpoint(Service.RECEIVER).url
        targets["oncall"] = NotifyTarget(f"{receiver}/chat", stack.credentials.receiver_token or None)
    interactive = sys.stdin.isatty() and not yes
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        ctx = RunbookContext(
            stack=stack,
            http=http,
            ledger=audit.AuditLedger(ledger_path),
            notify_targets=targets,
            strict_confirm=strict or (not yes and not interactive and not dry_run),
            confirmer=(lambda prompt: click.confirm(prompt, default=False)) if interactive else None,
            dry_run=dry_run,
        )
        try:
            run = RunbookEngine(ctx).run(rb, _alert(rb, labels), dry_run=dry_run, section=Section(section))
        except HarnessError as exc:
            raise click.ClickException(str(exc)) from exc
    _echo_run(run)
    if run.outcome not in (RunOutcome.SUCCEEDED, RunOutcome.DRY_RUN):
        raise click.exceptions.Exit(1)


@click.group("ledger")
def ledger() -> None:
    """The hash-chained audit ledger."""


@ledger.command("verify")
@click.option(
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ledger file (default: state dir/audit.jsonl).",
)
@click.option("--expect-head", default=None, help="Hash the last record must have (detects cut-off ends).")
def verify_cmd(path: Path | None, expect_head: str | None) -> None:
    """Check every record's hash and the chain; exit 1 naming each broken line."""
    try:
        report = audit.verify(path, expect_head=expect_head)
    except AuditLedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in report.problems:
        click.echo(f"{report.path}:{problem.line}: {problem.message}", err=True)
    if not report.ok:
        click.echo(f"FAILED: {len(report.problems)} problem(s) in {report.records} record(s)", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {report.records} record(s), head {report.head_hash}")
