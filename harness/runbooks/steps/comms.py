"""People-facing steps: ``confirm`` gates, ``notify`` messages, ``incident`` records."""

from __future__ import annotations

from harness.errors import RunbookError
from harness.runbooks.models import ConfirmStep, IncidentStep, NotifyStep
from harness.runbooks.steps.base import RunState, StepOutcome, StepRefused, StepResult
from harness.runbooks.steps.http import request


def execute_confirm(step: ConfirmStep, state: RunState) -> StepResult:
    ctx = state.ctx
    if ctx.strict_confirm:
        raise StepRefused(f"confirmation refused (strict mode): {step.prompt}")
    if ctx.confirmer is None:
        return StepResult(f"auto-approved (drill): {step.prompt}", StepOutcome.APPROVED)
    if not ctx.confirmer(step.prompt):
        raise StepRefused(f"confirmation declined by the operator: {step.prompt}")
    return StepResult(f"approved by the operator: {step.prompt}", StepOutcome.APPROVED)


def execute_notify(step: NotifyStep, state: RunState) -> StepResult:
    ctx = state.ctx
    target = ctx.notify_targets.get(step.webhook)
    if target is None:
        known = ", ".join(sorted(ctx.notify_targets)) or "none"
        raise RunbookError(f"no notify target {step.webhook!r} is configured (known: {known})")
    headers = {"Authorization": f"Bearer {target.bearer_token}"} if target.bearer_token else {}
    text = ctx.redactor.redact(step.text)
    response = request(
        ctx, "POST", target.url, timeout_s=step.timeout_s, headers=headers, json_body={"text": text}
    )
    return StepResult(f"posted to {step.webhook} ({response.status_code}): {text}")


def execute_incident(step: IncidentStep, state: RunState) -> StepResult:
    store = state.ctx.incident_store
    runbook = state.runbook
    if step.action == "open":
        current = state.incident_id
        if current is not None:
            store.note(current, f"runbook {runbook.id} fired again: {step.message}".strip())
            state.last_incident = current
            return StepResult(f"incident {current} already open; noted", StepOutcome.SUCCEEDED)
        assert step.title is not None
        incident = store.open(step.title, step.severity or runbook.severity, runbook.id, step.message)
        state.memory.remember(runbook.id, "incident", "", incident.id)
        state.last_incident = incident.id
        return StepResult(f"opened {incident.id} ({incident.severity.value}): {incident.title}")
    incident_id = state.incident_id
    if incident_id is None:
        raise RunbookError(f"no open incident of runbook {runbook.id} to {step.action}")
    state.last_incident = incident_id
    if step.action == "note":
        store.note(incident_id, step.message)
        return StepResult(f"{incident_id}: noted {step.message}")
    incident = store.resolve(incident_id, step.message)
    state.memory.forget(runbook.id, "incident", "")
    return StepResult(f"resolved {incident_id} after {incident.duration_seconds or 0:.1f}s: {step.message}")
