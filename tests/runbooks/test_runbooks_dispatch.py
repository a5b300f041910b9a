"""Alert dispatch: trigger matching, once per firing alert, restore on resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runbook_fakes import FakeTarget

from harness.receiver.models import Notification
from harness.runbooks.context import RunbookContext
from harness.runbooks.dispatch import AlertDispatcher, Decision
from harness.runbooks.engine import RunbookEngine
from harness.runbooks.models import Runbook, Section


def runbook(runbook_id: str = "cache", automation: str = "automatic", **extra: Any) -> Runbook:
    return Runbook.model_validate(
        {
            "id": runbook_id,
            "title": runbook_id,
            "severity": "SEV3",
            "automation": automation,
            "expected_recovery_seconds": 60,
            "triggers": [{"alert": "DemoRedisDown", "matchers": ['service="demo-target"']}],
            "steps": [{"id": f"{runbook_id}_on", "kind": "flag", "flag": "cache_bypass", "enabled": True}],
            "restore": [
                {"id": f"{runbook_id}_restore", "kind": "flag", "flag": "cache_bypass", "restore": True}
            ],
            **extra,
        }
    )


def notification(
    status: str, fingerprint: str = "aaa", service: str = "demo-target", name: str = "DemoRedisDown"
) -> Notification:
    return Notification.model_validate(
        {
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": name, "service": service},
                    "startsAt": datetime(2026, 1, 1, tzinfo=UTC),
                    "fingerprint": fingerprint,
                }
            ],
            "received_wall": datetime(2026, 1, 1, tzinfo=UTC),
            "received_mono": 1.0,
            "group_key": "g",
            "receiver": "harness",
        }
    )


def test_once_per_firing_alert_and_restore_on_resolve(ctx: RunbookContext, target: FakeTarget) -> None:
    dispatcher = AlertDispatcher({"cache": runbook()}, RunbookEngine(ctx))
    dispatcher.on_notification(notification("firing"))
    dispatcher.on_notification(notification("firing"))  # Alertmanager repeats itself
    assert [r.section for r in dispatcher.runs()] == [Section.STEPS]
    assert target.flags["cache_bypass"] is True
    assert [d.decision for d in dispatcher.dispatches()] == [Decision.STARTED, Decision.DUPLICATE]
    dispatcher.on_notification(notification("resolved"))
    assert [r.section for r in dispatcher.runs()] == [Section.STEPS, Section.RESTORE]
    assert target.flags["cache_bypass"] is False
    dispatcher.on_notification(notification("firing"))  # a new firing after resolution
    assert len(dispatcher.runs()) == 3
    assert dispatcher.errors() == []


def test_distinct_alerts_each_start(ctx: RunbookContext) -> None:
    dispatcher = AlertDispatcher({"cache": runbook()}, RunbookEngine(ctx))
    dispatcher.on_notification(notification("firing", "aaa"))
    dispatcher.on_notification(notification("firing", "bbb"))
    assert len(dispatcher.runs()) == 2


def test_non_matching_allowed_and_manual(ctx: RunbookContext, target: FakeTarget) -> None:
    runbooks = {"cache": runbook(), "other": runbook("other"), "hands": runbook("hands", "manual")}
    dispatcher = AlertDispatcher(runbooks, RunbookEngine(ctx), allowed_ids={"cache", "hands"})
    dispatcher.on_notification(notification("firing", service="elsewhere"))
    dispatcher.on_notification(notification("firing", name="DemoPostgresDown"))
    assert dispatcher.runs() == [] and dispatcher.dispatches() == []
    dispatcher.on_notification(notification("firing"))
    decisions = {d.runbook: d.decision for d in dispatcher.dispatches()}
    assert decisions == {"cache": Decision.STARTED, "other": Decision.NOT_ALLOWED, "hands": Decision.MANUAL}
    assert [r.runbook for r in dispatcher.runs()] == ["cache"]


def test_resolved_without_firing_runs_nothing(ctx: RunbookContext, target: FakeTarget) -> None:
    dispatcher = AlertDispatcher({"cache": runbook()}, RunbookEngine(ctx))
    dispatcher.on_notification(notification("resolved"))
    assert dispatcher.runs() == [] and target.requests == []


def test_background_worker(ctx: RunbookContext, target: FakeTarget) -> None:
    dispatcher = AlertDispatcher({"cache": runbook()}, RunbookEngine(ctx), background=True)
    try:
        dispatcher.on_notification(notification("firing"))
        dispatcher.on_notification(notification("resolved"))
        assert dispatcher.wait_idle(30)
        assert [r.section for r in dispatcher.runs()] == [Section.STEPS, Section.RESTORE]
        assert target.flags["cache_bypass"] is False
    finally:
        dispatcher.close()


def test_broken_run_is_recorded_not_raised(ctx: RunbookContext) -> None:
    class Exploding(RunbookEngine):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    dispatcher = AlertDispatcher({"cache": runbook()}, Exploding(ctx))
    dispatcher.on_notification(notification("firing"))
    assert dispatcher.errors() and "boom" in dispatcher.errors()[0]
    assert dispatcher.wait_idle(1)


def test_closed_dispatcher_ignores_notifications(ctx: RunbookContext, target: FakeTarget) -> None:
    dispatcher = AlertDispatcher({"cache": runbook()}, RunbookEngine(ctx))
    dispatcher.close()
    dispatcher.on_notification(notification("firing"))
    assert dispatcher.runs() == [] and dispatcher.dispatches() == [] and target.requests == []
