"""Faults driven through the target's admin API: OOM kill and a bad rules deploy.

Admin calls go to ``direct_endpoint(TARGET)`` with the stack's admin token, so
a proxy fault active at the same time never gets in their way.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import httpx
from pydantic import Field

from harness.errors import FaultError
from harness.faults.base import Fault, FaultContext, FaultParams
from harness.faults.probes import wait_ready
from harness.stack.base import Service

BAD_RULES: dict[str, Any] = {"max_quantity": 100, "discount_pct": 250, "currency": "EUR"}


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise FaultError(f"{what}: target answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise FaultError(f"{what}: target answered non-JSON {response.text[:200]!r}") from exc
    if not isinstance(body, dict):
        raise FaultError(f"{what}: unexpected answer {body!r}")
    return body


class OomKillFault(Fault):
    """Make the target's memory grow until the memory limit kills it; the supervisor restarts it.

    The restart count before injection is kept in ``undo`` so tests and the
    drill can see the kill (``GET /admin/state`` → ``restarts``).
    """

    kind = "oom_kill"

    class Params(FaultParams):
        mb_per_second: Annotated[float, Field(gt=0, le=4096, allow_inf_nan=False)] = 64.0

    params: Params

    def restarts(self, ctx: FaultContext) -> int:
        return int(_json(ctx.admin("GET", "/admin/state"), "read target state")["restarts"])

    def prepare(self, ctx: FaultContext) -> None:
        self.undo["restarts_before"] = self.restarts(ctx)

    def _inject(self, ctx: FaultContext) -> None:
        response = ctx.admin("POST", "/admin/debug/memory", json={"mb_per_second": self.params.mb_per_second})
        _json(response, "start memory growth")

    def _stop_growth(self, ctx: FaultContext) -> None:
        # the process may be mid-restart: a failed call just means nothing is growing
        with contextlib.suppress(FaultError):
            ctx.admin("DELETE", "/admin/debug/memory")

    def _revert(self, ctx: FaultContext) -> None:
        self._stop_growth(ctx)
        wait_ready(ctx, Service.TARGET)
        self._stop_growth(ctx)
        self.undo["restarts_after"] = self.restarts(ctx)
        self.undo.update(_supervisor_status(ctx))


def _supervisor_status(ctx: FaultContext) -> dict[str, Any]:
    """The local supervisor's view of the last exit (absent on other backends)."""
    from harness.stack.supervisor import read_status

    try:
        status = read_status(ctx.stack.run_dir / "target-supervisor.json")
    except (OSError, ValueError):
        return {}
    return {"last_exit_reason": status.last_exit_reason, "memory_limit_mode": status.memory_limit_mode.value}


class BadRulesDeployFault(Fault):
    """Deploy a broken rules version the way a real deploy does; revert rolls back to the previous one."""

    kind = "bad_rules_deploy"

    class Params(FaultParams):
        rules: dict[str, Any] = Field(default_factory=lambda: dict(BAD_RULES))

    params: Params

    def _current(self, ctx: FaultContext) -> dict[str, Any]:
        current = _json(ctx.admin("GET", "/admin/rules"), "read rules")["current"]
        if not isinstance(current, dict):
            raise FaultError(f"unexpected rules answer {current!r}")
        return current

    def prepare(self, ctx: FaultContext) -> None:
        self.undo["previous_version"] = int(self._current(ctx)["version"])

    def _inject(self, ctx: FaultContext) -> None:
        response = ctx.admin("POST", "/admin/rules", json={"rules": self.params.rules})
        self.undo["bad_version"] = int(_json(response, "deploy rules")["version"])

    def _revert(self, ctx: FaultContext) -> None:
        current = self._current(ctx)
        bad_version = self.undo.get("bad_version")
        still_bad = current.get("rules") == self.params.rules or current.get("version") == bad_version
        previous = self.undo.get("previous_version")
        if not still_bad or previous is None:
            self.undo["revert"] = "already rolled back"
            return
        response = ctx.admin("POST", "/admin/rules/rollback", json={"to_version": previous})
        self.undo["revert"] = f"rolled back to {_json(response, 'roll back rules')['version']}"
