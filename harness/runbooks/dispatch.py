"""Alert-driven remediation: firing alerts start matching runbooks, once per alert.

:class:`AlertDispatcher` is subscribed to the webhook receiver
(``receiver.subscribe(dispatcher.on_notification)``); the receiver only hands
over notifications that carried the bearer token, so unauthenticated POSTs
never reach it. For every firing alert it starts each runbook whose triggers
match, once per (runbook, alert fingerprint): Alertmanager's repeated
notifications for the same firing alert start nothing new; after the alert
resolved, a new firing may start the runbook again. On the resolved
notification the runbook's ``restore`` steps run, if it declares any.
``manual`` runbooks are matched and recorded but never started.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from harness.errors import RunbookError
from harness.receiver.models import AlertPayload, AlertStatus, Notification
from harness.runbooks.engine import RunbookEngine, RunbookRun
from harness.runbooks.models import AutomationLevel, Runbook, Section


class Decision(StrEnum):
    STARTED = "started"
    RESTORE = "restore"
    DUPLICATE = "duplicate"
    MANUAL = "manual_not_started"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class Dispatch:
    """One decision the dispatcher took about one alert."""

    decision: Decision
    runbook: str
    alertname: str
    fingerprint: str
    at: datetime


@dataclass(frozen=True)
class _Job:
    runbook: Runbook
    alert: AlertPayload
    section: Section


def alert_key(alert: AlertPayload) -> str:
    """Alertmanager's fingerprint, or a hash of the label set when it is missing."""
    if alert.fingerprint:
        return alert.fingerprint
    canonical = "\x00".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AlertDispatcher:
    def __init__(
        self,
        runbooks: Mapping[str, Runbook],
        engine: RunbookEngine,
        allowed_ids: set[str] | None = None,
        *,
        background: bool = False,
        restore_gate: threading.Event | None = None,
        restore_gate_timeout_s: float = 600.0,
    ) -> None:
        """``restore_gate``: restore runs wait until it is set (a drill sets it once its fault is reverted,
        so that restoring, e.g. closing a breaker, never re-exposes users to a fault still in place)."""
        self.runbooks = dict(runbooks)
        self.engine = engine
        self.allowed_ids = allowed_ids
        self.restore_gate = restore_gate
        self.restore_gate_timeout_s = restore_gate_timeout_s
        self._lock = threading.Condition()
        self._active: dict[tuple[str, str], AlertPayload] = {}
        self._runs: list[RunbookRun] = []
        self._dispatches: list[Dispatch] = []
        self._errors: list[str] = []
        self._pending = 0
        self._closed = False
        self._queue: queue.Queue[_Job | None] | None = None
        self._worker: threading.Thread | None = None
        if background:
            self._queue = queue.Queue()
            self._worker = threading.Thread(target=self._drain, name="runbook-dispatcher", daemon=True)
            self._worker.start()

    # -- receiver callback ------------------------------------------------------

    def on_notification(self, notification: Notification) -> None:
        """Start/restore the runbooks this notification calls for (in this thread unless background).

        After :meth:`close` notifications are ignored (the receiver has no unsubscribe).
        """
        if self._closed:
            return
        jobs = self._decide(notification)
        with self._lock:
            self._pending += len(jobs)
        for job in jobs:
            if self._queue is not None:
                self._queue.put(job)
            else:
                self._run(job)

    def _decide(self, notification: Notification) -> list[_Job]:
        jobs: list[_Job] = []
        now = self.engine.ctx.clock.now()
        with self._lock:
            for alert in notification.alerts:
                key = alert_key(alert)
                if alert.status is AlertStatus.FIRING:
                    for runbook in self._matching(alert):
                        decision = self._decide_firing(runbook, key, alert)
                        self._dispatches.append(Dispatch(decision, runbook.id, alert.name, key, now))
                        if decision is Decision.STARTED:
                            jobs.append(_Job(runbook, alert, Section.STEPS))
                    continue
                for runbook_id, fingerprint in [k for k in self._active if k[1] == key]:
                    del self._active[(runbook_id, fingerprint)]
                    runbook = self.runbooks[runbook_id]
                    if runbook.restore:
                        self._dispatches.append(Dispatch(Decision.RESTORE, runbook_id, alert.name, key, now))
                        jobs.append(_Job(runbook, alert, Section.RESTORE))
        return jobs

    def _decide_firing(self, runbook: Runbook, key: str, alert: AlertPayload) -> Decision:
        if self.allowed_ids is not None and runbook.id not in self.allowed_ids:
            return Decision.NOT_ALLOWED
        if runbook.automation is AutomationLevel.MANUAL:
            return Decision.MANUAL
        if (runbook.id, key) in self._active:
            return Decision.DUPLICATE
        self._active[(runbook.id, key)] = alert
        return Decision.STARTED

    def _matching(self, alert: AlertPayload) -> list[Runbook]:
        return [rb for rb in self.runbooks.values() if rb.matches(alert.labels)]

    # -- running ----------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        try:
            gate = self.restore_gate if job.section is Section.RESTORE else None
            if gate is not None and not gate.wait(self.restore_gate_timeout_s):
                raise RunbookError("restore not run: the fault was never reported gone (restore gate)")
            run = self.engine.run(job.runbook, job.alert, section=job.section)
            with self._lock:
                self._runs.append(run)
        except Exception as exc:  # recorded: the receiver thread must survive a broken run
            with self._lock:
                self._errors.append(f"{job.runbook.id} ({job.section.value}): {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(job)

    # -- what the drill loop reads ---------------------------------------------------

    def runs(self) -> list[RunbookRun]:
        with self._lock:
            return list(self._runs)

    def dispatches(self) -> list[Dispatch]:
        with self._lock:
            return list(self._dispatches)

    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def active(self) -> list[tuple[str, str]]:
        """(runbook id, alert fingerprint) of firing alerts whose runbook was started."""
        with self._lock:
            return list(self._active)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no run is queued or running; False if ``timeout`` seconds passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Ignore further notifications; stop the background worker after the queued runs."""
        self._closed = True
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)
