"""Run a runbook: steps with timeouts and retries, rollback in finally, everything journaled.

Flow of :meth:`RunbookEngine.run` (chaostoolkit-style):

1. read the declared secrets from the environment (missing ones refuse the run);
2. run the steps in order, each with ``retries`` extra attempts ``retry_delay_s`` apart;
   a failed step stops the run unless it says ``continue_on_failure``;
3. if a step failed (or anything escaped, even KeyboardInterrupt), run *every*
   rollback step; a failing rollback step is recorded and the rest still run;
4. record each step's start and end (outcome, attempts, redacted and truncated
   output) in the audit ledger and the event sink.

A dry run renders every section into a plan and touches nothing: no HTTP, no
shell, no service action, no notification; its only trace is one audit record.
"""

from __future__ import annotations

import secrets as _random
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from harness.drill.results import StepRecord
from harness.errors import HarnessError, RunbookError
from harness.receiver.models import AlertPayload
from harness.runbooks.context import RunbookContext
from harness.runbooks.models import Runbook, Section, Step
from harness.runbooks.plan import resolve, summary
from harness.runbooks.secrets import MASK, load_secrets
from harness.runbooks.steps import EXECUTORS, RunState, StepOutcome, StepRefused, StepResult
from harness.runbooks.steps.base import Memory

_FAILED = (StepOutcome.FAILED, StepOutcome.REFUSED)


class RunOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    DRY_RUN = "dry_run"


class PlannedStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: Section
    id: str
    kind: str
    phase: str | None = None
    summary: str
    resolved: dict[str, Any] = Field(default_factory=dict)
    problem: str | None = None


class RunbookRun(BaseModel):
    """One run of one section of a runbook."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    runbook: str
    section: Section = Section.STEPS
    outcome: RunOutcome
    dry_run: bool = False
    steps: list[StepRecord] = Field(default_factory=list)
    started: datetime
    finished: datetime | None = None
    rolled_back: bool = False
    rollback_ok: bool | None = None
    alertname: str | None = None
    alert_fingerprint: str | None = None
    incident_id: str | None = None
    error: str | None = None
    plan: list[PlannedStep] = Field(default_factory=list)


class RunbookEngine:
    def __init__(self, ctx: RunbookContext) -> None:
        self.ctx = ctx
        self.memory = Memory()

    def run(
        self,
        runbook: Runbook,
        alert: AlertPayload | None = None,
        dry_run: bool = False,
        section: Section = Section.STEPS,
    ) -> RunbookRun:
        ctx = self.ctx
        run = RunbookRun(
            run_id=f"{runbook.id}-{ctx.clock.now():%Y%m%dT%H%M%S}-{_random.token_hex(3)}",
            runbook=runbook.id,
            section=section,
            outcome=RunOutcome.SUCCEEDED,
            dry_run=dry_run or ctx.dry_run,
            started=ctx.clock.now(),
            alertname=alert.name if alert else None,
            alert_fingerprint=alert.fingerprint if alert else None,
        )
        state = RunState(ctx=ctx, runbook=runbook, run_id=run.run_id, memory=self.memory)
        if run.dry_run:
            return self._dry_run(run, state, alert)
        try:
            secrets = load_secrets(runbook.secrets, ctx.redactor, ctx.environ)
        except RunbookError as exc:
            run.outcome, run.error, run.finished = RunOutcome.REFUSED, str(exc), ctx.clock.now()
            self._audit("runbook_refused", run, error=str(exc))
            return run
        state.variables = _variables(runbook, alert, secrets, run.run_id)
        self._audit("runbook_started", run, steps=[s.id for s in runbook.section(section)])
        failed: Step | None = None
        try:
            for step in runbook.section(section):
                record = self._execute(step, state, run, section)
                if record.outcome in _FAILED and not step.continue_on_failure:
                    failed = step
                    run.outcome, run.error = RunOutcome.FAILED, f"step {step.id!r} failed: {record.output}"
                    break
        except BaseException as exc:
            run.outcome, run.error = RunOutcome.FAILED, ctx.excerpt(f"interrupted: {exc!r}")
            self._rollback(runbook, state, run, section)
            raise
        else:
            if failed is not None:
                self._rollback(runbook, state, run, section)
        finally:
            run.incident_id = state.incident_id or state.last_incident
            run.finished = ctx.clock.now()
            self._audit(
                "runbook_finished",
                run,
                outcome=run.outcome.value,
                rolled_back=run.rolled_back,
                rollback_ok=run.rollback_ok,
                error=ctx.excerpt(run.error or ""),
            )
        return run

    # -- internals -----------------------------------------------------------------

    def _rollback(self, runbook: Runbook, state: RunState, run: RunbookRun, section: Section) -> None:
        if section is not Section.STEPS or not runbook.rollback:
            return
        run.rolled_back = True
        self._audit("rollback_started", run, steps=[s.id for s in runbook.rollback])
        ok = True
        for step in runbook.rollback:
            try:
                record = self._execute(step, state, run, Section.ROLLBACK)
                ok = ok and record.outcome not in _FAILED
            except Exception:  # _execute records its own failures; this is belt and braces
                ok = False
        run.rollback_ok = ok

    def _execute(self, step: Step, state: RunState, run: RunbookRun, section: Section) -> StepRecord:
        ctx = self.ctx
        started = ctx.clock.now()
        self._emit(
            StepRecord(
                runbook=run.runbook,
                step=step.id,
                kind=step.kind,
                started=started,
                outcome=StepOutcome.STARTED.value,
            )
        )
        self._audit(
            "step_started",
            run,
            step=step.id,
            kind=step.kind,
            section=section.value,
            phase=step.phase.value if step.phase else None,
        )
        attempts, result = 0, StepResult("", StepOutcome.FAILED)
        for attempt in range(1, step.retries + 2):
            attempts = attempt
            try:
                resolved = resolve(step, state.variables)
                result = EXECUTORS[resolved.kind](resolved, state)
                break
            except StepRefused as exc:
                result = StepResult(str(exc), StepOutcome.REFUSED)
                break
            except (HarnessError, httpx.HTTPError, OSError) as exc:
                result = StepResult(f"{type(exc).__name__}: {exc}", StepOutcome.FAILED)
            except Exception as exc:  # a bug in an executor must not skip the rollback
                result = StepResult(f"unexpected {type(exc).__name__}: {exc}", StepOutcome.FAILED)
            if attempt <= step.retries:
                ctx.clock.sleep(step.retry_delay_s)
        record = StepRecord(
            runbook=run.runbook,
            step=step.id,
            kind=step.kind,
            started=started,
            finished=ctx.clock.now(),
            outcome=result.outcome.value,
            attempts=attempts,
            output=ctx.excerpt(result.output),
        )
        run.steps.append(record)
        self._audit(
            "step_finished",
            run,
            step=step.id,
            kind=step.kind,
            section=section.value,
            outcome=record.outcome,
            attempts=attempts,
            output=record.output,
        )
        self._emit(record)
        return record

    def _dry_run(self, run: RunbookRun, state: RunState, alert: AlertPayload | None) -> RunbookRun:
        runbook = state.runbook
        variables = _variables(runbook, alert, {name: MASK for name in runbook.secrets}, run.run_id)
        variables["incident_id"] = "INC-DRY-RUN"
        for section in Section:
            for step in runbook.section(section):
                planned = PlannedStep(
                    section=section,
                    id=step.id,
                    kind=step.kind,
                    phase=step.phase.value if step.phase else None,
                    summary=summary(step),
                )
                try:
                    resolved = resolve(step, variables)
                    planned.summary = self.ctx.redactor.redact(summary(resolved))
                    planned.resolved = self.ctx.redactor.redact_obj(
                        resolved.model_dump(mode="json", by_alias=True, exclude_none=True)
                    )
                except RunbookError as exc:
                    planned.problem = self.ctx.excerpt(str(exc))
                run.plan.append(planned)
                if section is Section.STEPS:
                    record = StepRecord(
                        runbook=runbook.id,
                        step=step.id,
                        kind=step.kind,
                        started=run.started,
                        finished=run.started,
                        outcome=StepOutcome.DRY_RUN.value,
                        output=planned.problem or planned.summary,
                    )
                    run.steps.append(record)
                    self._emit(record)
        run.outcome, run.finished = RunOutcome.DRY_RUN, self.ctx.clock.now()
        self._audit("runbook_dry_run", run, plan=[p.model_dump(mode="json") for p in run.plan])
        return run

    def _audit(self, event: str, run: RunbookRun, **payload: Any) -> None:
        base = {
            "run_id": run.run_id,
            "runbook": run.runbook,
            "section": run.section.value,
            "dry_run": run.dry_run,
            "alertname": run.alertname,
            "alert_fingerprint": run.alert_fingerprint,
        }
        self.ctx.ledger.append(event, self.ctx.redactor.redact_obj({**base, **payload}))

    def _emit(self, record: StepRecord) -> None:
        if self.ctx.event_sink is not None:
            self.ctx.event_sink(record)


def _variables(
    runbook: Runbook, alert: AlertPayload | None, secrets: dict[str, str], run_id: str
) -> dict[str, Any]:
    labels = dict(alert.labels) if alert else {}
    annotations = dict(alert.annotations) if alert else {}
    return {
        "alert": {
            "name": alert.name if alert else "",
            "status": alert.status.value if alert else "",
            "labels": labels,
            "annotations": annotations,
            "fingerprint": alert.fingerprint if alert else "",
            "starts_at": alert.starts_at.isoformat() if alert else "",
        },
        "labels": labels,
        "annotations": annotations,
        "runbook": {"id": runbook.id, "title": runbook.title, "severity": runbook.severity.value},
        "secrets": secrets,
        "run_id": run_id,
    }
