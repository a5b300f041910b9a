"""Step executors, one module per family, looked up by step kind."""

from __future__ import annotations

from harness.runbooks.steps.base import Executor, RunState, StepOutcome, StepRefused, StepResult
from harness.runbooks.steps.comms import execute_confirm, execute_incident, execute_notify
from harness.runbooks.steps.http import execute_http
from harness.runbooks.steps.service import execute_memory_limit, execute_service
from harness.runbooks.steps.shell import execute_shell
from harness.runbooks.steps.target_admin import execute_breaker, execute_flag, execute_rules_rollback
from harness.runbooks.steps.wait import execute_wait_for

EXECUTORS: dict[str, Executor] = {
    "http": execute_http,
    "shell": execute_shell,
    "flag": execute_flag,
    "breaker": execute_breaker,
    "rules_rollback": execute_rules_rollback,
    "service": execute_service,
    "memory_limit": execute_memory_limit,
    "wait_for": execute_wait_for,
    "confirm": execute_confirm,
    "notify": execute_notify,
    "incident": execute_incident,
}

__all__ = ["EXECUTORS", "Executor", "RunState", "StepOutcome", "StepRefused", "StepResult"]
