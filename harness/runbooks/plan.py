"""Resolving a step (rendering its templates) and describing it in one line."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from harness.errors import RunbookError
from harness.runbooks.models import (
    BreakerStep,
    ConfirmStep,
    FlagStep,
    HttpStep,
    IncidentStep,
    MemoryLimitStep,
    NotifyStep,
    RulesRollbackStep,
    ServiceStep,
    ShellStep,
    Step,
    WaitForStep,
)
from harness.runbooks.templating import render_tree

_STEP = TypeAdapter[Step](Step)


def resolve(step: Step, variables: dict[str, Any]) -> Step:
    """The step with every template field rendered (validated again, so types still hold)."""
    raw = step.model_dump(mode="json", by_alias=True, exclude_none=True)
    rendered = render_tree(raw, variables)
    try:
        return _STEP.validate_python(rendered)
    except ValidationError as exc:
        raise RunbookError(f"step {step.id!r} is invalid after templating: {exc}") from exc


def summary(step: Step) -> str:
    """One line saying what the step does."""
    match step:
        case HttpStep():
            return f"{step.method} {step.url} (expect {', '.join(map(str, step.expect_status))})"
        case ShellStep():
            return "run " + " ".join(_quote(a) for a in step.argv)
        case FlagStep():
            value = "its value before the runbook" if step.restore else str(step.enabled).lower()
            return f"set flag {step.flag} to {value}"
        case BreakerStep():
            if step.action == "restore":
                return f"restore breaker {step.breaker} to its state before the runbook"
            return f"{step.action} breaker {step.breaker}"
        case RulesRollbackStep():
            return f"roll rules back to {step.to_version or 'the previous version'}"
        case ServiceStep():
            cond = ""
            if step.only_if_status is not None:
                cond = " if it is " + "/".join(s.value for s in step.only_if_status)
            return f"{step.action.value} {step.service.value}{cond}"
        case MemoryLimitStep():
            if step.restore:
                return f"restore the memory limit of {step.service.value} to its value before the runbook"
            if step.scale is not None:
                return f"scale the memory limit of {step.service.value} by {step.scale:g}"
            return f"set the memory limit of {step.service.value} to {step.memory_limit_mb} MB"
        case WaitForStep():
            if step.promql is not None:
                what = f"{step.promql.query} {step.promql.op.value} {step.promql.value:g}"
            else:
                assert step.http is not None
                what = f"GET {step.http.url} answers {'/'.join(map(str, step.http.expect_status))}"
            hold = f" for {step.hold_s:g}s" if step.hold_s else ""
            return f"wait up to {step.timeout_s:g}s until {what}{hold}"
        case ConfirmStep():
            return f"confirm: {step.prompt}"
        case NotifyStep():
            return f"notify {step.webhook}: {step.text}"
        case IncidentStep():
            detail = step.title if step.action == "open" else step.message
            return f"incident {step.action}: {detail}"
    return step.kind  # pragma: no cover - the union is exhaustive


def _quote(arg: str) -> str:
    return repr(arg) if (not arg or any(c.isspace() for c in arg)) else arg
