"""The runbook side of a drill: the real alert path starts the runbook, restore waits for the fault to go.

A :class:`RunbookResponse` subscribes an :class:`~harness.runbooks.dispatch.AlertDispatcher` to the
stack's receiver just before the fault, limited to the scenario's runbook, and its restore steps wait
behind a gate the drill opens only once the fault is reverted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from harness.drill.context import DrillContext
from harness.drill.results import StepRecord
from harness.receiver import WebhookReceiver
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.dispatch import AlertDispatcher
from harness.runbooks.engine import RunbookEngine, RunbookRun
from harness.runbooks.models import Runbook, Section


class RunbookResponse:
    def __init__(
        self,
        ctx: DrillContext,
        runbook: Runbook,
        receiver: WebhookReceiver,
        on_step: Callable[[StepRecord], None],
    ) -> None:
        self.ctx = ctx
        self.runbook = runbook
        self.receiver = receiver
        self.fault_gone = threading.Event()  # restore steps wait for it
        self.extra_runs: list[RunbookRun] = []
        oncall = NotifyTarget(
            url=f"{receiver.endpoint.url}/chat", bearer_token=ctx.stack.credentials.receiver_token
        )
        self.engine = RunbookEngine(
            RunbookContext(
                stack=ctx.stack,
                clock=ctx.clock,
                strict_confirm=ctx.options.strict_confirm,
                event_sink=on_step,
                prometheus=ctx.prometheus,
                notify_targets={"oncall": oncall},
            )
        )
        self.dispatcher = AlertDispatcher(
            ctx.runbooks,
            self.engine,
            allowed_ids={runbook.id},
            background=True,
            restore_gate=self.fault_gone,
            restore_gate_timeout_s=ctx.options.resolve_timeout_s + 60.0,
        )

    def arm(self) -> None:
        self.receiver.subscribe(self.dispatcher.on_notification)

    def runs(self) -> list[RunbookRun]:
        return self.dispatcher.runs() + self.extra_runs

    def main_run(self) -> RunbookRun | None:
        """The runbook's main steps, once they have run to the end (or failed)."""
        return next((r for r in self.runs() if r.section == Section.STEPS), None)

    def restore(self) -> None:
        """The restore steps, once the fault is gone: through the resolved alert where it came, else run
        here (after closing the dispatcher, so a late resolved alert cannot run them twice)."""
        if not self.runbook.restore or self.main_run() is None or not self.fault_gone.is_set():
            return
        self.dispatcher.wait_idle(timeout=60.0)
        if any(r.section == Section.RESTORE for r in self.runs()):
            return
        self.dispatcher.close(timeout=30.0)
        self.extra_runs.append(self.engine.run(self.runbook, section=Section.RESTORE))

    def close(self) -> None:
        self.dispatcher.close(timeout=30.0)
        self.receiver.unsubscribe(self.dispatcher.on_notification)
