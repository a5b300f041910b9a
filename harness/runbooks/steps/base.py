"""What a step executor receives and returns.

An executor is ``execute(step, state) -> StepResult``; it raises a
:class:`~harness.errors.HarnessError` (or an httpx error) when the step fails,
and :class:`StepRefused` when it must not be retried (a refused confirmation).
Executors get the *resolved* step: templates already rendered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.errors import RunbookError
from harness.runbooks.context import RunbookContext
from harness.runbooks.models import Runbook


class StepOutcome(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    APPROVED = "approved"
    REFUSED = "refused"
    DRY_RUN = "dry_run"


class StepRefused(RunbookError):
    """The step was refused (e.g. a confirmation in strict mode); never retried."""


@dataclass(frozen=True)
class StepResult:
    output: str = ""
    outcome: StepOutcome = StepOutcome.SUCCEEDED


class Memory:
    """What outlives one run of a runbook: values to restore, and the open incident.

    Keyed by runbook id, so the restore steps run on the resolved notification (a
    separate run) put back what the firing run changed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str, str], Any] = {}

    def remember(self, runbook: str, kind: str, name: str, value: Any) -> None:
        """Keep the first value seen (the one from before the runbook changed anything)."""
        with self._lock:
            self._values.setdefault((runbook, kind, name), value)

    def recall(self, runbook: str, kind: str, name: str) -> Any:
        with self._lock:
            return self._values.get((runbook, kind, name))

    def forget(self, runbook: str, kind: str, name: str) -> Any:
        with self._lock:
            return self._values.pop((runbook, kind, name), None)


@dataclass
class RunState:
    ctx: RunbookContext
    runbook: Runbook
    run_id: str
    memory: Memory
    variables: dict[str, Any] = field(default_factory=dict)
    last_incident: str | None = None  # the incident this run opened, noted or resolved

    @property
    def incident_id(self) -> str | None:
        value = self.memory.recall(self.runbook.id, "incident", "")
        return str(value) if value is not None else None


Executor = Callable[[Any, RunState], StepResult]
