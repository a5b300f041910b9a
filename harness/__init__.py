"""chaos-drill-harness: rehearse incidents for real.

The public API, imported lazily (the pytest plugin loads this package in every pytest run):

    from harness import LocalStack, LocalSettings, DrillSession, DrillOptions, load_scenario, load_runbooks
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it
_API: dict[str, str] = {
    # clocks and errors
    "Clock": "harness.clock",
    "SystemClock": "harness.clock",
    "FakeClock": "harness.clock",
    "HarnessError": "harness.errors",
    # stacks
    "Stack": "harness.stack.base",
    "FakeStack": "harness.stack.base",
    "Service": "harness.stack.base",
    "ServiceAction": "harness.stack.base",
    "ServiceStatus": "harness.stack.base",
    "StackState": "harness.stack.base",
    "Endpoint": "harness.stack.base",
    "LocalStack": "harness.stack.local",
    "LocalSettings": "harness.stack.local",
    "DockerStack": "harness.stack.docker",
    "DockerSettings": "harness.stack.docker",
    "select_backend": "harness.stack.select",
    "wait_for": "harness.stack.wait",
    # observers
    "WebhookReceiver": "harness.receiver",
    "PrometheusClient": "harness.observe.prometheus",
    "AlertmanagerClient": "harness.observe.alertmanager",
    # faults
    "Fault": "harness.faults.base",
    "FaultContext": "harness.faults.base",
    "FakeFault": "harness.faults.base",
    "build_fault": "harness.faults.registry",
    "FaultLedger": "harness.faults.ledger",
    "heal": "harness.faults.heal",
    # runbooks
    "Runbook": "harness.runbooks.models",
    "RunbookEngine": "harness.runbooks.engine",
    "RunbookContext": "harness.runbooks.context",
    "AlertDispatcher": "harness.runbooks.dispatch",
    "load_runbooks": "harness.runbooks.catalog",
    # scenarios, load, drills, gate, report
    "Scenario": "harness.scenarios.models",
    "load_scenario": "harness.scenarios.load",
    "load_scenarios": "harness.scenarios.load",
    "LoadRunner": "harness.load.runner",
    "LoadSpec": "harness.load.models",
    "DrillSession": "harness.drill.session",
    "DrillRunner": "harness.drill.loop",
    "DrillContext": "harness.drill.context",
    "DrillOptions": "harness.drill.context",
    "DrillResult": "harness.drill.results",
    "RunResults": "harness.drill.results",
    "Verdict": "harness.drill.results",
    "run_gate": "harness.gate",
    "render_run": "harness.report.render",
}

__all__ = [
    "AlertDispatcher",
    "AlertmanagerClient",
    "Clock",
    "DockerSettings",
    "DockerStack",
    "DrillContext",
    "DrillOptions",
    "DrillResult",
    "DrillRunner",
    "DrillSession",
    "Endpoint",
    "FakeClock",
    "FakeFault",
    "FakeStack",
    "Fault",
    "FaultContext",
    "FaultLedger",
    "HarnessError",
    "LoadRunner",
    "LoadSpec",
    "LocalSettings",
    "LocalStack",
    "PrometheusClient",
    "RunResults",
    "Runbook",
    "RunbookContext",
    "RunbookEngine",
    "Scenario",
    "Service",
    "ServiceAction",
    "ServiceStatus",
    "Stack",
    "StackState",
    "SystemClock",
    "Verdict",
    "WebhookReceiver",
    "__version__",
    "build_fault",
    "heal",
    "load_runbooks",
    "load_scenario",
    "load_scenarios",
    "render_run",
    "run_gate",
    "select_backend",
    "wait_for",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
