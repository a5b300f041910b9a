"""Engine and step logic against fakes (FakeStack, FakeClock, an in-memory admin API)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runbook_fakes import ADMIN_TOKEN, FakeProm, FakeTarget

from harness.drill.results import StepRecord
from harness.receiver.models import AlertPayload
from harness.runbooks.audit import verify
from harness.runbooks.context import RunbookContext
from harness.runbooks.engine import RunbookEngine, RunOutcome
from harness.runbooks.models import Runbook, Section
from harness.stack.base import FakeStack, Service, ServiceAction, ServiceStatus


def make(steps: list[dict[str, Any]], **extra: Any) -> Runbook:
    return Runbook.model_validate(
        {
            "id": "t",
            "title": "test runbook",
            "severity": "SEV2",
            "automation": "automatic",
            "expected_recovery_seconds": 60,
            "steps": steps,
            **extra,
        }
    )


def alert(**labels: str) -> AlertPayload:
    return AlertPayload.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "DemoRedisDown", **labels},
            "annotations": {"summary": "redis is down"},
            "startsAt": datetime(2026, 1, 1, tzinfo=UTC),
            "fingerprint": "fp1",
        }
    )


def ledger_events(ctx: RunbookContext) -> list[str]:
    return [json.loads(line)["event"] for line in ctx.ledger.path.read_text().splitlines()]


FLAG_ON = {"id": "bypass_on", "kind": "flag", "flag": "cache_bypass", "enabled": True}
FLAG_RESTORE = {"id": "bypass_restore", "kind": "flag", "flag": "cache_bypass", "restore": True}
RB_RESTORE = {"id": "rb_restore", "kind": "flag", "flag": "cache_bypass", "restore": True}
FAILING_HTTP = {"id": "broken", "kind": "http", "url": "target:/nope", "expect_status": [200]}


def test_successful_run_records_every_step(ctx: RunbookContext, target: FakeTarget) -> None:
    sink: list[StepRecord] = []
    ctx.event_sink = sink.append
    rb = make([FLAG_ON, {"id": "look", "kind": "http", "url": "target:/admin/state"}, FLAG_RESTORE])
    run = RunbookEngine(ctx).run(rb, alert())
    assert run.outcome is RunOutcome.SUCCEEDED, run.error
    assert [r.outcome for r in run.steps] == ["succeeded"] * 3
    assert target.flags["cache_bypass"] is False  # restored
    assert any(r.method == "PUT" and r.url.path == "/admin/flags/cache_bypass" for r in target.requests)
    assert [r.outcome for r in sink] == ["started", "succeeded"] * 3
    events = ledger_events(ctx)
    assert events[0] == "runbook_started" and events[-1] == "runbook_finished"
    assert events.count("step_started") == 3 and events.count("step_finished") == 3
    assert verify(ctx.ledger.path).ok
    assert not run.rolled_back


def test_retries_then_success(ctx: RunbookContext, target: FakeTarget, clock: Any) -> None:
    target.fail_paths["/admin/state"] = 2
    rb = make([{**FLAG_ON, "retries": 3, "retry_delay_s": 2.5}])
    run = RunbookEngine(ctx).run(rb)
    assert run.outcome is RunOutcome.SUCCEEDED
    assert run.steps[0].attempts == 3
    assert clock.sleeps == [2.5, 2.5]
    assert target.flags["cache_bypass"] is True


def test_failure_stops_and_rolls_back_to_pre_run_state(ctx: RunbookContext, target: FakeTarget) -> None:
    target.breakers["redis"] = "closed"
    rb = make(
        [
            FLAG_ON,
            {"id": "open_breaker", "kind": "breaker", "breaker": "redis", "action": "open"},
            FAILING_HTTP,
            {"id": "never", "kind": "flag", "flag": "read_only", "enabled": True},
        ],
        rollback=[
            {"id": "rb_broken", "kind": "http", "url": "target:/also-nope"},
            FLAG_RESTORE,
            {"id": "rb_breaker", "kind": "breaker", "breaker": "redis", "action": "restore"},
        ],
    )
    before = target.state()
    run = RunbookEngine(ctx).run(rb)
    assert run.outcome is RunOutcome.FAILED
    assert "broken" in (run.error or "")
    assert run.rolled_back and run.rollback_ok is False  # rb_broken failed ...
    ids = [(r.step, r.outcome) for r in run.steps]
    assert ("never", "succeeded") not in ids and all(s != "never" for s, _ in ids)
    assert ("rb_broken", "failed") in ids  # ... and the others still ran
    assert ("bypass_restore", "succeeded") in ids and ("rb_breaker", "succeeded") in ids
    assert target.state() == before
    assert "rollback_started" in ledger_events(ctx)


def test_continue_on_failure(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make([{**FAILING_HTTP, "continue_on_failure": True}, FLAG_ON])
    run = RunbookEngine(ctx).run(rb)
    assert run.outcome is RunOutcome.SUCCEEDED
    assert [r.outcome for r in run.steps] == ["failed", "succeeded"]
    assert target.flags["cache_bypass"] is True


def test_dry_run_touches_nothing(
    ctx: RunbookContext, target: FakeTarget, fake_stack: FakeStack, tmp_path: Path
) -> None:
    marker = tmp_path / "shell-ran"
    rb = make(
        [
            FLAG_ON,
            {"id": "restart", "kind": "service", "service": "redis", "action": "restart"},
            {"id": "sh", "kind": "shell", "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]},
            {
                "id": "tell",
                "kind": "notify",
                "webhook": "oncall",
                "text": "{{ labels.alertname }} on {{ labels.instance }}",
            },
            {"id": "inc", "kind": "incident", "action": "open", "title": "x"},
            {"id": "w", "kind": "wait_for", "http": {"url": "target:/health/ready"}},
        ],
        rollback=[FLAG_RESTORE],
    )
    calls_before = list(fake_stack.calls)
    run = RunbookEngine(ctx).run(rb, alert(instance="127.0.0.1:1"), dry_run=True)
    assert run.outcome is RunOutcome.DRY_RUN
    assert target.requests == []
    assert fake_stack.calls == calls_before
    assert not marker.exists()
    assert not (tmp_path / "incidents").exists()
    assert ledger_events(ctx) == ["runbook_dry_run"]
    assert [p.section for p in run.plan].count(Section.ROLLBACK) == 1
    notify = next(p for p in run.plan if p.id == "tell")
    assert notify.resolved["text"] == "DemoRedisDown on 127.0.0.1:1"
    assert all(r.outcome == "dry_run" for r in run.steps)


def test_secrets_are_redacted_everywhere(ctx: RunbookContext, target: FakeTarget) -> None:
    secret = "s3cr3t-value-abcdef"
    ctx.env = {"PATH": "/usr/bin:/bin", "API_KEY": secret}
    sink: list[StepRecord] = []
    ctx.event_sink = sink.append
    rb = make(
        [
            {
                "id": "echo",
                "kind": "http",
                "url": "http://target.local:8080/echo",
                "headers": {"X-Api-Key": "{{ secrets.API_KEY }}"},
            },
            {"id": "tell", "kind": "notify", "webhook": "oncall", "text": "key={{ secrets.API_KEY }}"},
            {
                "id": "inc",
                "kind": "incident",
                "action": "open",
                "title": "leak {{ secrets.API_KEY }}",
                "message": "{{ secrets.API_KEY }}",
            },
            {
                "id": "admin",
                "kind": "http",
                "url": "http://target.local:8080/echo",
                "headers": {"X-Api-Key": ADMIN_TOKEN},
            },
        ],
        secrets=["API_KEY"],
    )
    run = RunbookEngine(ctx).run(rb)
    assert run.outcome is RunOutcome.SUCCEEDED, run.error
    assert target.requests[0].headers["x-api-key"] == secret  # the real value was used ...
    text = ctx.ledger.path.read_text() + json.dumps([r.model_dump(mode="json") for r in [*run.steps, *sink]])
    text += "".join(p.read_text() for p in ctx.incident_store.directory.glob("*.json"))
    text += json.dumps(target.chat)
    assert secret not in text and ADMIN_TOKEN not in text  # ... and written nowhere
    assert "***" in run.steps[0].output
    assert target.chat[0]["text"] == "key=***"
    dry = RunbookEngine(ctx).run(rb, dry_run=True)
    assert secret not in dry.model_dump_json()


def test_missing_secret_refuses_the_run(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make([FLAG_ON], secrets=["NOT_SET_ANYWHERE"])
    run = RunbookEngine(ctx).run(rb)
    assert run.outcome is RunOutcome.REFUSED
    assert "NOT_SET_ANYWHERE" in (run.error or "")
    assert target.requests == []


def test_label_payload_is_inert(ctx: RunbookContext, target: FakeTarget) -> None:
    payload = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    rb = make(
        [{"id": "tell", "kind": "notify", "webhook": "oncall", "text": "instance {{ labels.instance }}"}]
    )
    run = RunbookEngine(ctx).run(rb, alert(instance=payload))
    assert run.outcome is RunOutcome.SUCCEEDED
    assert target.chat[0]["text"] == f"instance {payload}"  # rendered as text, never evaluated


def test_sandbox_refuses_internals_in_templates(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make(
        [{"id": "tell", "kind": "notify", "webhook": "oncall", "text": "{{ labels.__class__.__mro__ }}"}]
    )
    run = RunbookEngine(ctx).run(rb, alert())
    assert run.outcome is RunOutcome.FAILED
    assert "SecurityError" in run.steps[0].output and "unsafe" in run.steps[0].output
    assert target.chat == []


def test_strict_undefined_label_fails_the_step(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make([{"id": "tell", "kind": "notify", "webhook": "oncall", "text": "{{ labels.no_such_label }}"}])
    run = RunbookEngine(ctx).run(rb, alert())
    assert run.outcome is RunOutcome.FAILED
    assert "UndefinedError" in run.steps[0].output
    assert target.chat == []


def test_shell_env_allow_list_and_exit_code(ctx: RunbookContext) -> None:
    ctx.env = {"PATH": "/usr/bin:/bin", "ALLOWED_VAR": "yes", "OTHER_VAR": "leak"}
    code = "import os; print(sorted(k for k in os.environ if k.endswith('_VAR')))"
    rb = make(
        [
            {
                "id": "sh",
                "kind": "shell",
                "argv": [sys.executable, "-c", code],
                "env_allow": ["ALLOWED_VAR"],
                "env": {"STEP_VAR": "1"},
            },
            {"id": "bad", "kind": "shell", "argv": [sys.executable, "-c", "raise SystemExit(3)"]},
        ]
    )
    run = RunbookEngine(ctx).run(rb)
    assert "['ALLOWED_VAR', 'STEP_VAR']" in run.steps[0].output
    assert run.steps[1].outcome == "failed" and "exited with 3" in run.steps[1].output


def test_shell_timeout_kills(ctx: RunbookContext) -> None:
    rb = make(
        [
            {
                "id": "slow",
                "kind": "shell",
                "argv": [sys.executable, "-c", "import time; time.sleep(30)"],
                "timeout_s": 0.5,
            }
        ]
    )
    run = RunbookEngine(ctx).run(rb)
    assert run.steps[0].outcome == "failed" and "timed out" in run.steps[0].output


def test_confirm_gate_modes(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make(
        [FLAG_ON, {"id": "gate", "kind": "confirm", "prompt": "restart?"}, FLAG_RESTORE],
        rollback=[RB_RESTORE],
    )
    auto = RunbookEngine(ctx).run(rb)
    assert [r.outcome for r in auto.steps] == ["succeeded", "approved", "succeeded"]
    assert "auto-approved" in auto.steps[1].output
    ctx.strict_confirm = True
    strict = RunbookEngine(ctx).run(rb)
    assert strict.outcome is RunOutcome.FAILED and strict.rolled_back
    assert strict.steps[1].outcome == "refused" and strict.steps[1].attempts == 1
    assert target.flags["cache_bypass"] is False
    asked: list[str] = []

    def decline(prompt: str) -> bool:
        asked.append(prompt)
        return False

    ctx.strict_confirm, ctx.confirmer = False, decline
    declined = RunbookEngine(ctx).run(rb)
    assert asked == ["restart?"] and declined.steps[1].outcome == "refused"


def test_service_steps_go_through_the_stack(ctx: RunbookContext, fake_stack: FakeStack) -> None:
    fake_stack.statuses[Service.REDIS] = ServiceStatus.RUNNING
    rb = make(
        [
            {
                "id": "start_if_down",
                "kind": "service",
                "service": "redis",
                "action": "start",
                "only_if_status": ["stopped"],
            },
            {"id": "restart", "kind": "service", "service": "redis", "action": "restart"},
        ]
    )
    run = RunbookEngine(ctx).run(rb)
    assert [r.outcome for r in run.steps] == ["skipped", "succeeded"]
    assert ("control", Service.REDIS, ServiceAction.START) not in fake_stack.calls
    assert ("control", Service.REDIS, ServiceAction.RESTART) in fake_stack.calls
    fake_stack.fail_actions.add((Service.REDIS, ServiceAction.RESTART))
    failed = RunbookEngine(ctx).run(rb)
    assert failed.outcome is RunOutcome.FAILED and "fake failure" in failed.steps[1].output


def test_wait_for_promql_holds_and_times_out(ctx: RunbookContext, clock: Any) -> None:
    prom = FakeProm([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    ctx.prometheus = prom
    step = {
        "id": "w",
        "kind": "wait_for",
        "promql": {"query": "up", "op": "==", "value": 1},
        "hold_s": 2,
        "poll_interval_s": 1,
        "timeout_s": 30,
    }
    run = RunbookEngine(ctx).run(make([step]))
    assert run.outcome is RunOutcome.SUCCEEDED, run.error
    # held from t=3 to t=5; without the reset at t=2 it would have passed at t=3 (4 queries)
    assert len(prom.queries) == 6
    ctx.prometheus = FakeProm([None])
    timed_out = RunbookEngine(ctx).run(make([{**step, "timeout_s": 5}]))
    assert timed_out.outcome is RunOutcome.FAILED
    assert "timed out" in timed_out.steps[0].output and "no data" in timed_out.steps[0].output


def test_wait_for_http_probe(ctx: RunbookContext, target: FakeTarget) -> None:
    target.ready_status = 503
    step = {
        "id": "w",
        "kind": "wait_for",
        "http": {"url": "target:/health/ready"},
        "timeout_s": 3,
        "poll_interval_s": 1,
    }
    assert RunbookEngine(ctx).run(make([step])).outcome is RunOutcome.FAILED
    target.ready_status = 200
    assert RunbookEngine(ctx).run(make([step])).outcome is RunOutcome.SUCCEEDED


def test_notify_posts_slack_format_with_token(ctx: RunbookContext, target: FakeTarget) -> None:
    rb = make(
        [
            {
                "id": "tell",
                "kind": "notify",
                "webhook": "oncall",
                "text": "[{{ runbook.severity }}] {{ annotations.summary }}",
            },
            {"id": "nowhere", "kind": "notify", "webhook": "pager", "text": "x"},
        ]
    )
    run = RunbookEngine(ctx).run(rb, alert())
    assert target.chat == [{"auth": "Bearer chat-token-9999", "text": "[SEV2] redis is down"}]
    assert run.steps[1].outcome == "failed" and "no notify target 'pager'" in run.steps[1].output


def test_incident_lifecycle_across_firing_and_restore(ctx: RunbookContext) -> None:
    rb = make(
        [
            {
                "id": "open",
                "kind": "incident",
                "action": "open",
                "title": "Redis down",
                "severity": "P1",
                "message": "{{ labels.alertname }}",
            },
            {"id": "note", "kind": "incident", "action": "note", "message": "bypass on"},
        ],
        restore=[{"id": "close", "kind": "incident", "action": "resolve", "message": "resolved"}],
    )
    engine = RunbookEngine(ctx)
    fired = engine.run(rb, alert())
    assert fired.incident_id is not None
    restored = engine.run(rb, alert(), section=Section.RESTORE)
    assert restored.outcome is RunOutcome.SUCCEEDED, restored.error
    incident = ctx.incident_store.get(fired.incident_id)
    assert incident.status == "resolved" and incident.severity == "SEV1"
    assert [e.kind for e in incident.timeline] == ["opened", "note", "resolved"]
    assert incident.timeline[0].message == "DemoRedisDown"


def test_flag_restore_without_change_is_skipped(ctx: RunbookContext, target: FakeTarget) -> None:
    run = RunbookEngine(ctx).run(make([FLAG_RESTORE]))
    assert run.steps[0].outcome == "skipped"
    assert all(r.method == "GET" for r in target.requests)


def test_output_is_truncated(ctx: RunbookContext) -> None:
    ctx.output_limit = 50
    rb = make([{"id": "sh", "kind": "shell", "argv": [sys.executable, "-c", "print('x' * 500)"]}])
    run = RunbookEngine(ctx).run(rb)
    assert len(run.steps[0].output) < 100 and "more characters" in run.steps[0].output


def test_interrupt_still_rolls_back(ctx: RunbookContext, target: FakeTarget) -> None:
    interrupted: list[str] = []

    def sink(record: StepRecord) -> None:
        if record.step == "gate" and not interrupted:
            interrupted.append(record.step)
            raise KeyboardInterrupt

    ctx.event_sink = sink
    rb = make([FLAG_ON, {"id": "gate", "kind": "confirm", "prompt": "go?"}], rollback=[RB_RESTORE])
    with pytest.raises(KeyboardInterrupt):
        RunbookEngine(ctx).run(rb)
    assert interrupted == ["gate"]
    assert target.flags["cache_bypass"] is False
    events = ledger_events(ctx)
    assert "rollback_started" in events and events[-1] == "runbook_finished"
