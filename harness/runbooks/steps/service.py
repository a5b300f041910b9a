"""``service`` steps: process control through the Stack interface.

Every action runs on one control thread, so that a step can give up after
``timeout_s`` while the action finishes in the background. (Children the stack
starts are forked from its own long-lived spawner thread, see
``harness.stack.procs.spawn``, so they outlive whichever thread asked.)
"""

from __future__ import annotations

import concurrent.futures

from harness.errors import HarnessError, RunbookError
from harness.runbooks.models import MemoryLimitStep, ServiceStep
from harness.runbooks.steps.base import RunState, StepOutcome, StepResult

_CONTROL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="runbook-stack-control")


def execute_service(step: ServiceStep, state: RunState) -> StepResult:
    stack = state.ctx.require_stack()
    status = stack.status(step.service)
    if step.only_if_status is not None and status not in step.only_if_status:
        return StepResult(
            f"{step.service.value} is {status.value}; {step.action.value} not needed", StepOutcome.SKIPPED
        )
    what = f"{step.action.value} {step.service.value}"
    future = _CONTROL.submit(stack.control, step.service, step.action)
    try:
        future.result(timeout=step.timeout_s)
    except concurrent.futures.TimeoutError as exc:
        raise RunbookError(f"{what} did not finish in {step.timeout_s:.0f}s") from exc
    except HarnessError:
        raise
    except Exception as exc:
        raise RunbookError(f"{what}: {exc!r}") from exc
    after = stack.status(step.service).value
    return StepResult(f"{step.service.value}: {status.value} → {step.action.value} → {after}")


def execute_memory_limit(step: MemoryLimitStep, state: RunState) -> StepResult:
    stack = state.ctx.require_stack()
    runbook, name = state.runbook.id, step.service.value
    current = stack.memory_limit(step.service)
    if step.restore:
        before = state.memory.recall(runbook, "memory_limit", name)
        if before is None:
            return StepResult(f"{name} memory limit: nothing to restore (not changed)", StepOutcome.SKIPPED)
        wanted = int(before)
    else:
        if current is None and step.memory_limit_mb is None:
            raise RunbookError(f"{name} has no memory limit to scale")
        wanted = step.memory_limit_mb or round((current or 0) * (step.scale or 1.0))
        if current is not None:
            state.memory.remember(runbook, "memory_limit", name, current)
    future = _CONTROL.submit(stack.set_memory_limit, step.service, wanted)
    try:
        future.result(timeout=step.timeout_s)
    except concurrent.futures.TimeoutError as exc:
        message = f"setting the memory limit of {name} did not finish in {step.timeout_s:.0f}s"
        raise RunbookError(message) from exc
    if step.restore:
        state.memory.forget(runbook, "memory_limit", name)
    return StepResult(f"{name} memory limit: {current} MB → {wanted} MB")
