"""Heal the fault ledger: revert every fault it shows as possibly still in effect.

``drillctl cleanup`` and every drill (before it starts) call :func:`heal`.
Expired faults are reverted first. Each fault is rebuilt from its kind,
params and undo data and reverted through its stack: the live stack passed in
``stacks`` (keyed by run directory), else the stack reattached from
``run_dir/stack.json``. A stack whose processes are all gone makes its faults
moot (recorded as reverted, note "stack gone"). Faults whose owning harness
process is still alive are left to it unless ``force``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import FaultLedgerError, HarnessError
from harness.faults.attach import attach_stack
from harness.faults.base import FaultContext, FaultState
from harness.faults.ledger import FaultLedger, LedgerEntry
from harness.faults.registry import build_fault
from harness.stack.base import Stack
from harness.stack.procs import pid_alive

StackAttacher = Callable[[Path], Stack | None]


class HealOutcome(StrEnum):
    REVERTED = "reverted"
    STACK_GONE = "stack_gone"
    SKIPPED = "skipped"  # its owner process is alive and will revert it
    FAILED = "failed"


@dataclass(frozen=True)
class HealItem:
    id: str
    kind: str
    run_dir: str
    expired: bool
    outcome: HealOutcome
    note: str = ""


@dataclass
class HealReport:
    items: list[HealItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.outcome != HealOutcome.FAILED for item in self.items)

    @property
    def failed(self) -> list[HealItem]:
        return [item for item in self.items if item.outcome == HealOutcome.FAILED]

    def raise_for_failure(self) -> None:
        if not self.ok:
            lines = [f"{i.kind} {i.id} ({i.run_dir}): {i.note}" for i in self.failed]
            detail = "\n  ".join(lines)
            raise FaultLedgerError(f"faults from an earlier run could not be reverted:\n  {detail}")


def heal(
    ledger: FaultLedger | None = None,
    *,
    stacks: Mapping[str | Path, Stack] | None = None,
    attach: StackAttacher = attach_stack,
    clock: Clock = SYSTEM_CLOCK,
    force: bool = False,
    ready_timeout_s: float = 60.0,
    strict: bool = False,
) -> HealReport:
    """Revert every live ledger entry; ``strict`` raises FaultLedgerError when one cannot be healed."""
    ledger = ledger if ledger is not None else FaultLedger(clock=clock)
    known = {str(Path(k).resolve()): v for k, v in (stacks or {}).items()}
    report = HealReport()
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        for entry in ledger.active():
            report.items.append(
                _heal_one(ledger, entry, known, attach, clock, http, force, ready_timeout_s)
            )
    if strict:
        report.raise_for_failure()
    return report


def _heal_one(
    ledger: FaultLedger,
    entry: LedgerEntry,
    stacks: Mapping[str, Stack],
    attach: StackAttacher,
    clock: Clock,
    http: httpx.Client,
    force: bool,
    ready_timeout_s: float,
) -> HealItem:
    expired = entry.expired(clock.now())

    def item(outcome: HealOutcome, note: str) -> HealItem:
        return HealItem(entry.id, entry.kind, entry.run_dir, expired, outcome, note)

    owner = entry.owner_pid
    if not force and owner is not None and owner != os.getpid() and pid_alive(owner):
        return item(HealOutcome.SKIPPED, f"its harness (pid {owner}) is still running")
    run_dir = Path(entry.run_dir)
    try:
        stack = stacks.get(str(run_dir.resolve())) or attach(run_dir)
    except HarnessError as exc:
        ledger.record(entry.id, FaultState.FAILED, note=f"cleanup: cannot reach its stack: {exc}")
        return item(HealOutcome.FAILED, f"cannot reach its stack: {exc}")
    if stack is None:
        ledger.record(entry.id, FaultState.REVERTED, note="stack gone")
        return item(HealOutcome.STACK_GONE, "stack gone")
    ctx = FaultContext(stack=stack, ledger=None, clock=clock, http=http, ready_timeout_s=ready_timeout_s,
                       install_signal_handlers=False)
    try:
        fault = build_fault(entry.kind, entry.params, fault_id=entry.id)
        fault.undo = dict(entry.undo)
        fault.state = FaultState.ACTIVE
        fault.revert(ctx)
    except Exception as exc:
        ledger.record(entry.id, FaultState.FAILED, note=f"cleanup: revert failed: {exc}")
        return item(HealOutcome.FAILED, f"revert failed: {exc}")
    note = "reverted by cleanup" + (" after its expiry" if expired else "")
    ledger.record(entry.id, FaultState.REVERTED, undo=dict(fault.undo) or None, note=note)
    return item(HealOutcome.REVERTED, note)
