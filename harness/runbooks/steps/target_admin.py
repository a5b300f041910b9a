"""The demo target's admin actions as steps: feature flags, circuit breakers, rules rollback.

Before the first change a run makes to a flag or breaker, its current value is
remembered (per runbook), so ``restore`` puts back what was there before the
runbook ran, whether from the rollback steps or from the restore steps run when
the alert resolves.
"""

from __future__ import annotations

from typing import Any

from harness.errors import RunbookError
from harness.runbooks.models import BreakerStep, FlagStep, RulesRollbackStep
from harness.runbooks.steps.base import RunState, StepOutcome, StepResult
from harness.runbooks.steps.http import request, response_json


def admin_state(state: RunState, timeout_s: float) -> dict[str, Any]:
    body = response_json(request(state.ctx, "GET", "target:/admin/state", timeout_s=timeout_s))
    if not isinstance(body, dict):
        raise RunbookError(f"/admin/state answered {body!r}")
    return body


def _current(state: RunState, section: str, name: str, timeout_s: float) -> Any:
    values = admin_state(state, timeout_s).get(section, {})
    if not isinstance(values, dict) or name not in values:
        raise RunbookError(f"the target has no {section[:-1]} {name!r}")
    return values[name]


def _set_flag(state: RunState, flag: str, enabled: bool, timeout_s: float) -> None:
    request(
        state.ctx, "PUT", f"target:/admin/flags/{flag}", timeout_s=timeout_s, json_body={"enabled": enabled}
    )


def execute_flag(step: FlagStep, state: RunState) -> StepResult:
    runbook = state.runbook.id
    if step.restore:
        if state.memory.recall(runbook, "flag", step.flag) is None:
            return StepResult(f"flag {step.flag}: nothing to restore (not changed)", StepOutcome.SKIPPED)
        before = bool(state.memory.recall(runbook, "flag", step.flag))
        _set_flag(state, step.flag, before, step.timeout_s)
        state.memory.forget(runbook, "flag", step.flag)
        return StepResult(f"flag {step.flag} restored to {str(before).lower()}")
    assert step.enabled is not None
    before = bool(_current(state, "flags", step.flag, step.timeout_s))
    state.memory.remember(runbook, "flag", step.flag, before)
    _set_flag(state, step.flag, step.enabled, step.timeout_s)
    return StepResult(f"flag {step.flag}: {str(before).lower()} → {str(step.enabled).lower()}")


def _set_breaker(state: RunState, breaker: str, action: str, timeout_s: float) -> None:
    url = f"target:/admin/breakers/{breaker}/{action}"
    request(state.ctx, "POST", url, timeout_s=timeout_s, json_body={})


def execute_breaker(step: BreakerStep, state: RunState) -> StepResult:
    runbook = state.runbook.id
    if step.action == "restore":
        before = state.memory.recall(runbook, "breaker", step.breaker)
        if before is None:
            message = f"breaker {step.breaker}: nothing to restore (not changed)"
            return StepResult(message, StepOutcome.SKIPPED)
        _set_breaker(state, step.breaker, "open" if before == "open" else "close", step.timeout_s)
        state.memory.forget(runbook, "breaker", step.breaker)
        return StepResult(f"breaker {step.breaker} restored to {before}")
    before = str(_current(state, "breakers", step.breaker, step.timeout_s))
    state.memory.remember(runbook, "breaker", step.breaker, before)
    _set_breaker(state, step.breaker, step.action, step.timeout_s)
    return StepResult(f"breaker {step.breaker}: {before} → {'open' if step.action == 'open' else 'closed'}")


def execute_rules_rollback(step: RulesRollbackStep, state: RunState) -> StepResult:
    before = admin_state(state, step.timeout_s).get("rules_version")
    body = response_json(
        request(
            state.ctx,
            "POST",
            "target:/admin/rules/rollback",
            timeout_s=step.timeout_s,
            json_body={"to_version": step.to_version},
        )
    )
    version = body.get("version") if isinstance(body, dict) else None
    return StepResult(f"rules version {before} → {version}")
