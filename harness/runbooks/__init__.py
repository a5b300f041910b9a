"""Runbooks as code: the format, the engine, the audit ledger and alert dispatch.

Typical wiring (the drill loop)::

    ctx = RunbookContext(stack=stack, notify_targets={"oncall": NotifyTarget(url, token)},
                         event_sink=record_step)
    dispatcher = AlertDispatcher(load_runbooks(), RunbookEngine(ctx), allowed_ids={...})
    stack.receiver.subscribe(dispatcher.on_notification)
"""

from harness.runbooks.audit import AuditLedger, VerifyReport, verify
from harness.runbooks.catalog import load_runbooks
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.dispatch import AlertDispatcher
from harness.runbooks.engine import RunbookEngine, RunbookRun, RunOutcome
from harness.runbooks.models import Runbook, Section

__all__ = [
    "AlertDispatcher",
    "AuditLedger",
    "NotifyTarget",
    "RunOutcome",
    "Runbook",
    "RunbookContext",
    "RunbookEngine",
    "RunbookRun",
    "Section",
    "VerifyReport",
    "load_runbooks",
    "verify",
]
