"""Runbooks against the real local stack: real alerts, real Prometheus, the real demo target.

One stack per module (Postgres, Redis, fault proxy, target under its supervisor,
Alertmanager, Prometheus, the in-process receiver), always taken down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.clock import SYSTEM_CLOCK
from harness.receiver.models import AlertStatus, Notification
from harness.runbooks.audit import AuditLedger, verify
from harness.runbooks.catalog import load_runbooks
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.dispatch import AlertDispatcher, Decision
from harness.runbooks.engine import RunbookEngine, RunbookRun, RunOutcome
from harness.runbooks.incidents import IncidentStore
from harness.runbooks.models import Runbook, Section
from harness.stack.base import Service, ServiceAction, ServiceStatus
from harness.stack.local import LocalSettings, LocalStack
from harness.stack.wait import Predicate, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(LocalSettings(run_dir=tmp_path_factory.mktemp("runbook-stack"), resolve_timeout_s=2.0))
    try:
        local.up()
        yield local
    finally:
        local.down()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


@pytest.fixture
def ctx(stack: LocalStack, http: httpx.Client, tmp_path: Path) -> RunbookContext:
    receiver = stack.endpoint(Service.RECEIVER).url
    return RunbookContext(
        stack=stack,
        http=http,
        ledger=AuditLedger(tmp_path / "audit.jsonl"),
        incidents=IncidentStore(tmp_path / "incidents"),
        notify_targets={"oncall": NotifyTarget(f"{receiver}/chat", stack.credentials.receiver_token)},
    )


def admin_state(stack: LocalStack, http: httpx.Client) -> dict[str, Any]:
    response = http.get(
        f"{stack.direct_endpoint(Service.TARGET).url}/admin/state",
        headers={"Authorization": f"Bearer {stack.credentials.admin_token}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    body.pop("restarts", None)
    return body


def webhook_body(notification: Notification) -> dict[str, Any]:
    """The Alertmanager webhook (v4) a recorded notification came from."""
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "status": notification.status.value,
        "receiver": notification.receiver,
        "alerts": [
            {
                "status": a.status.value,
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": a.starts_at.isoformat(),
                "endsAt": a.ends_at.isoformat() if a.ends_at else "0001-01-01T00:00:00Z",
                "fingerprint": a.fingerprint,
            }
            for a in notification.alerts
        ],
    }


def wait_until(check: Any, description: str, timeout: float) -> None:
    wait_for(Predicate(check, description), timeout=timeout, poll_interval=0.25, clock=SYSTEM_CLOCK)


def test_real_alert_runs_the_runbook_once_and_heals(
    stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    assert stack.receiver is not None
    receiver = stack.receiver
    runbooks = load_runbooks()
    dispatcher = AlertDispatcher(runbooks, RunbookEngine(ctx), background=True)
    receiver.subscribe(dispatcher.on_notification)
    before = admin_state(stack, http)
    try:
        stack.control(Service.REDIS, ServiceAction.STOP)  # the fault
        first = receiver.wait_for_notification(
            lambda n: n.has_alert("DemoRedisDown", AlertStatus.FIRING), timeout=90
        )
        # Alertmanager repeating itself: the same firing alert again, authenticated.
        again = http.post(
            f"{receiver.endpoint.url}/alertmanager",
            json=webhook_body(first),
            headers={"Authorization": f"Bearer {stack.credentials.receiver_token}"},
        )
        assert again.status_code == 200

        def healed() -> bool:
            return any(
                r.runbook == "cache_service_failure" and r.section is Section.STEPS for r in dispatcher.runs()
            )

        wait_until(healed, "the cache runbook finished", 180)
        run = next(r for r in dispatcher.runs() if r.runbook == "cache_service_failure")
        assert run.outcome is RunOutcome.SUCCEEDED, (run.error, [s.output for s in run.steps])
        assert stack.status(Service.REDIS) is ServiceStatus.RUNNING
        ready = http.get(f"{stack.direct_endpoint(Service.TARGET).url}/health/ready")
        assert ready.status_code == 200, ready.text
        assert admin_state(stack, http) == before  # cache bypass was switched off again
        started = [d for d in dispatcher.dispatches() if d.runbook == "cache_service_failure"]
        assert [d.decision for d in started][:2] == [Decision.STARTED, Decision.DUPLICATE]
        assert [d.decision for d in started].count(Decision.STARTED) == 1
        assert any("cache_service_failure" in m.text for m in receiver.chat_messages())
        # resolution: the restore steps run (nothing left to restore, so they are skipped)
        wait_until(
            lambda: any(r.section is Section.RESTORE for r in dispatcher.runs()), "the restore run", 120
        )
        restore = next(r for r in dispatcher.runs() if r.section is Section.RESTORE)
        assert restore.outcome is RunOutcome.SUCCEEDED and [s.outcome for s in restore.steps] == ["skipped"]
        assert dispatcher.errors() == []
        assert verify(ctx.ledger.path).ok
    finally:
        dispatcher.close()
        if stack.status(Service.REDIS) is not ServiceStatus.RUNNING:
            stack.control(Service.REDIS, ServiceAction.START)


def test_unauthenticated_notification_starts_nothing(
    stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    assert stack.receiver is not None
    receiver = stack.receiver
    dispatcher = AlertDispatcher(load_runbooks(), RunbookEngine(ctx))
    receiver.subscribe(dispatcher.on_notification)
    try:
        _post_forged(receiver.endpoint.url, http)
        receiver.wait_idle(10)
        assert dispatcher.dispatches() == [] and dispatcher.runs() == []
        assert not ctx.ledger.path.exists()
    finally:
        dispatcher.close()


def _post_forged(receiver_url: str, http: httpx.Client) -> None:
    body = {
        "version": "4",
        "groupKey": "forged",
        "status": "firing",
        "receiver": "harness",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DemoPostgresDown", "service": "demo-target", "severity": "critical"},
                "annotations": {},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "forged",
            }
        ],
    }
    url = f"{receiver_url}/alertmanager"
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
        assert http.post(url, json=body, headers=headers).status_code == 401


def test_failing_step_rolls_back_to_pre_runbook_state(
    stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    runbook = Runbook.model_validate(
        {
            "id": "failing_mitigation",
            "title": "mitigate, then fail to verify",
            "severity": "SEV2",
            "automation": "automatic",
            "expected_recovery_seconds": 30,
            "steps": [
                {"id": "bypass", "kind": "flag", "flag": "cache_bypass", "enabled": True},
                {"id": "breaker", "kind": "breaker", "breaker": "redis", "action": "open"},
                {"id": "throttle", "kind": "flag", "flag": "throttle_noncritical", "enabled": True},
                {
                    "id": "never_true",
                    "kind": "wait_for",
                    "promql": {"query": 'max(demo_dependency_up{job="demo-target"})', "op": ">", "value": 5},
                    "timeout_s": 4,
                    "poll_interval_s": 0.5,
                },
                {"id": "not_reached", "kind": "flag", "flag": "read_only", "enabled": True},
            ],
            "rollback": [
                {"id": "rb_throttle", "kind": "flag", "flag": "throttle_noncritical", "restore": True},
                {"id": "rb_breaker", "kind": "breaker", "breaker": "redis", "action": "restore"},
                {"id": "rb_bypass", "kind": "flag", "flag": "cache_bypass", "restore": True},
            ],
        }
    )
    before = admin_state(stack, http)
    run = RunbookEngine(ctx).run(runbook)
    assert run.outcome is RunOutcome.FAILED and run.rolled_back and run.rollback_ok
    assert "last observation: 1" in next(s.output for s in run.steps if s.step == "never_true")
    assert all(s.step != "not_reached" for s in run.steps)
    assert admin_state(stack, http) == before
    events = [json.loads(line)["event"] for line in ctx.ledger.path.read_text().splitlines()]
    assert "rollback_started" in events and events[-1] == "runbook_finished"


def test_dry_run_of_every_shipped_runbook_touches_nothing(
    stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    assert stack.receiver is not None
    before = admin_state(stack, http)
    statuses = {s: stack.status(s) for s in (Service.REDIS, Service.POSTGRES, Service.TARGET)}
    chats = len(stack.receiver.chat_messages())
    runs: list[RunbookRun] = []
    for runbook in load_runbooks().values():
        alert_labels = {"alertname": runbook.triggers[0].alert, "service": "demo-target"}
        from harness.receiver.models import AlertPayload

        alert = AlertPayload.model_validate(
            {
                "status": "firing",
                "labels": alert_labels,
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "x",
            }
        )
        runs.append(RunbookEngine(ctx).run(runbook, alert, dry_run=True))
    assert all(r.outcome is RunOutcome.DRY_RUN for r in runs)
    assert all(p.problem is None for r in runs for p in r.plan), [p.problem for r in runs for p in r.plan]
    assert admin_state(stack, http) == before
    assert {s: stack.status(s) for s in statuses} == statuses
    assert len(stack.receiver.chat_messages()) == chats
    assert not (ctx.incident_store.directory).exists()
    lines = ctx.ledger.path.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["runbook_dry_run"] * len(runs)


def test_postgres_alert_runs_the_semi_automatic_runbook(
    stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    assert stack.receiver is not None
    receiver = stack.receiver
    dispatcher = AlertDispatcher(load_runbooks(), RunbookEngine(ctx), background=True)
    receiver.subscribe(dispatcher.on_notification)
    before = admin_state(stack, http)
    try:
        stack.control(Service.POSTGRES, ServiceAction.STOP)

        def finished() -> bool:
            return any(r.runbook == "database_connection_failure" for r in dispatcher.runs())

        wait_until(finished, "the database runbook finished", 240)
        run = next(r for r in dispatcher.runs() if r.runbook == "database_connection_failure")
        assert run.outcome is RunOutcome.SUCCEEDED, (run.error, [(s.step, s.output) for s in run.steps])
        outcomes = {s.step: s.outcome for s in run.steps}
        assert outcomes["confirm_restart"] == "approved"  # auto-approved in a drill, and recorded
        assert outcomes["restart_postgres"] == "succeeded"
        assert stack.status(Service.POSTGRES) is ServiceStatus.RUNNING
        assert admin_state(stack, http) == before  # read_only restored
        order = http.post(
            f"{stack.endpoint(Service.TARGET).url}/orders", json={"sku": "a", "quantity": 1, "customer": "c"}
        )
        assert order.status_code == 201, order.text
        ledger = [json.loads(line) for line in ctx.ledger.path.read_text().splitlines()]
        assert any(
            r["event"] == "step_finished"
            and r["payload"]["step"] == "confirm_restart"
            and r["payload"]["outcome"] == "approved"
            for r in ledger
        )
    finally:
        dispatcher.close()
        if stack.status(Service.POSTGRES) is not ServiceStatus.RUNNING:
            stack.control(Service.POSTGRES, ServiceAction.START)


def _admin(stack: LocalStack, http: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    return http.request(
        method,
        f"{stack.direct_endpoint(Service.TARGET).url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {stack.credentials.admin_token}"},
    )


@pytest.mark.parametrize(
    "runbook_id",
    [
        "cache_service_failure",
        "api_high_latency",
        "database_connection_failure",
        "oom_restart",
        "bad_rules_deploy",
        "error_rate_spike",
    ],
)
def test_shipped_runbook_runs_for_real(
    runbook_id: str, stack: LocalStack, ctx: RunbookContext, http: httpx.Client
) -> None:
    """Every shipped runbook's endpoints, PromQL and steps work against the real stack."""
    from harness.faults.proxy_client import ProxyClient

    runbook = load_runbooks()[runbook_id]
    proxy = ProxyClient(stack.endpoint(Service.FAULT_PROXY).url, client=http)
    rules_before = admin_state(stack, http)["rules_version"]
    if runbook_id == "bad_rules_deploy":
        bad = {"rules": {"max_quantity": 100, "discount_pct": 500, "currency": "EUR"}}
        assert _admin(stack, http, "POST", "/admin/rules", bad).status_code == 201
        catalog = http.get(f"{stack.direct_endpoint(Service.TARGET).url}/catalog")
        assert catalog.status_code == 500  # the bad version really breaks requests
    if runbook_id == "error_rate_spike":
        proxy.add_toxic("target", "http_error", ttl_seconds=120, attributes={"status": 503})
    before = admin_state(stack, http)
    chats = len(stack.receiver.chat_messages()) if stack.receiver else 0
    engine = RunbookEngine(ctx)
    run = engine.run(runbook)
    assert run.outcome is RunOutcome.SUCCEEDED, (
        run.error,
        [(s.step, s.outcome, s.output) for s in run.steps],
    )
    assert not run.rolled_back
    if runbook.restore:
        restored = engine.run(runbook, section=Section.RESTORE)
        assert restored.outcome is RunOutcome.SUCCEEDED, restored.error
    after = admin_state(stack, http)
    if runbook_id == "bad_rules_deploy":
        assert after["rules_version"] == rules_before
        after["rules_version"] = before["rules_version"]
    assert after == before
    assert stack.receiver is not None and len(stack.receiver.chat_messages()) > chats
    if runbook_id == "error_rate_spike":
        assert proxy.toxics("target") == []
        (incident,) = ctx.incident_store.all()
        assert incident.status == "resolved" and [e.kind for e in incident.timeline] == [
            "opened",
            "note",
            "resolved",
        ]


def test_cli_run_against_a_running_stack(stack: LocalStack, http: httpx.Client, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli.runbook import runbook

    runner = CliRunner()
    ledger = tmp_path / "cli-audit.jsonl"
    common = ["--stack-file", str(stack.run_dir / "stack.json"), "--ledger", str(ledger)]
    before = admin_state(stack, http)
    ok = runner.invoke(runbook, ["run", "cache_service_failure", *common])
    assert ok.exit_code == 0, ok.output
    assert "cache_service_failure: succeeded" in ok.output
    # not interactive and no --yes: the confirmation gate is refused, the rollback undoes read_only
    refused = runner.invoke(runbook, ["run", "database_connection_failure", *common])
    assert refused.exit_code == 1, refused.output
    assert "refused" in refused.output and "rolled back (ok=True)" in refused.output
    assert admin_state(stack, http) == before
    assert stack.credentials.admin_token not in ok.output + refused.output + ledger.read_text()
    assert verify(ledger).ok
