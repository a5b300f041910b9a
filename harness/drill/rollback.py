"""Rollback verification: everything the drill touched is back to its pre-drill value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.drill.context import DrillContext
from harness.faults.base import Fault
from harness.scenarios.models import TargetKind
from harness.stack.base import Service

# what a drill must leave as it found it: the demo target's flags, breakers and rules version (from
# its /admin/state) and its memory limit (from the stack)
COMPARED_KEYS = ("flags", "breakers", "rules_version", "memory_limit_mb")


def snapshot_target(ctx: DrillContext) -> dict[str, Any] | None:
    """The demo target's admin state (flags, breakers, rules version); None for other targets."""
    if ctx.scenario.target.kind != TargetKind.DEMO or not ctx.stack.has(Service.TARGET):
        return None
    url = ctx.stack.direct_endpoint(Service.TARGET).url + "/admin/state"
    headers = {"Authorization": f"Bearer {ctx.stack.credentials.admin_token}"}
    try:
        response = ctx.http.get(url, headers=headers)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    state = response.json()
    state["memory_limit_mb"] = ctx.stack.memory_limit(Service.TARGET)
    return {key: state.get(key) for key in COMPARED_KEYS}


@dataclass
class RollbackCheck:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    ran: bool = False

    @property
    def ok(self) -> bool:
        return self.ran and not self.problems

    def verify(
        self, ctx: DrillContext, before: dict[str, Any] | None, *, alerts_inactive: bool, fault: Fault | None
    ) -> None:
        self.ran = True
        if before is not None:
            after = snapshot_target(ctx)
            if after is None:
                self.problems.append("target admin state unreadable after the drill")
            else:
                for key in COMPARED_KEYS:
                    if after.get(key) != before.get(key):
                        self.problems.append(
                            f"target {key}: {before.get(key)!r} before, {after.get(key)!r} after"
                        )
                self.checked.append("target flags, breakers, rules version and memory limit as before")
        if fault is not None:
            active = [e for e in ctx.ledger.active() if e.id == fault.id]
            if active:
                self.problems.append(f"fault {fault.kind} {fault.id} still active in the fault ledger")
            self.checked.append("nothing of the drill active in the fault ledger")
        if not alerts_inactive:
            self.problems.append(f"drill alerts still firing: {sorted(ctx.scenario.expect.alerts)}")
        self.checked.append("no drill alert still firing")
