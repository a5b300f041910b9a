"""The webhook receiver: auth, payload parsing, recording, subscribers (real HTTP on loopback)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from harness.clock import FakeClock
from harness.errors import ConfigError, StackError, WaitTimeout
from harness.receiver import AlertStatus, FakeReceiver, Notification, WebhookReceiver

TOKEN = "receiver-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def am_payload(status: str = "firing", name: str = "DemoHighErrorRatio", **extra: Any) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "harness",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": "demo-target", "severity": "critical"},
        "commonAnnotations": {"runbook_id": "error_rate_spike"},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "service": "demo-target", "severity": "critical"},
                "annotations": {"summary": "errors", "runbook_id": "error_rate_spike"},
                "startsAt": "2026-11-22T00:10:01.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-22T00:11:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
                "fingerprint": "a1b2c3d4e5f60718",
            }
        ],
        **extra,
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime(2026, 11, 22, tzinfo=UTC))


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[WebhookReceiver]:
    rx = WebhookReceiver(TOKEN, clock=clock)
    rx.start()
    try:
        yield rx
    finally:
        rx.stop()


def post(rx: WebhookReceiver, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{rx.endpoint.url}{path}", content=content, timeout=5,
                      headers={"Content-Type": "application/json", **(headers or {})})


def test_binds_loopback_on_a_free_port(receiver: WebhookReceiver) -> None:
    assert receiver.endpoint.host == "127.0.0.1"
    assert receiver.endpoint.port > 0
    assert httpx.get(f"{receiver.endpoint.url}/health", timeout=5).status_code == 200


def test_notification_recorded_with_injected_clock(receiver: WebhookReceiver, clock: FakeClock) -> None:
    clock.advance(12.5)
    response = post(receiver, "/alertmanager", am_payload(), AUTH)
    assert response.status_code == 200, response.text
    [n] = receiver.notifications()
    assert n.status is AlertStatus.FIRING
    assert n.received_wall == datetime(2026, 11, 22, 0, 0, 12, 500000, tzinfo=UTC)
    assert n.received_mono == pytest.approx(1012.5)
    assert n.group_key == '{}:{alertname="DemoHighErrorRatio"}'
    assert n.receiver == "harness"
    [alert] = n.alerts
    assert alert.name == "DemoHighErrorRatio"
    assert alert.runbook_id == "error_rate_spike"
    assert alert.labels["service"] == "demo-target"
    assert alert.starts_at == datetime(2026, 11, 22, 0, 10, 1, 123456, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert n.has_alert("DemoHighErrorRatio", "firing") and not n.has_alert("DemoHighErrorRatio", "resolved")


def test_resolved_notification_has_end_time(receiver: WebhookReceiver) -> None:
    assert post(receiver, "/alertmanager", am_payload("resolved"), AUTH).status_code == 200
    [n] = receiver.notifications()
    assert n.status is AlertStatus.RESOLVED
    assert n.alerts[0].ends_at == datetime(2026, 11, 22, 0, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
)
def test_unauthorised_posts_are_401_and_leave_no_trace(
    receiver: WebhookReceiver, headers: dict[str, str]
) -> None:
    calls: list[Notification] = []
    receiver.subscribe(calls.append)
    for path, body in (("/alertmanager", am_payload()), ("/chat", {"text": "hi"})):
        response = post(receiver, path, body, headers)
        assert response.status_code == 401
    receiver.wait_idle(timeout=5)
    assert receiver.notifications() == []
    assert receiver.chat_messages() == []
    assert calls == []
    assert receiver.rejected == 2


def test_bad_payloads_are_400_and_not_recorded(receiver: WebhookReceiver) -> None:
    bad_version = am_payload()
    bad_version["version"] = "3"
    no_alerts = am_payload()
    del no_alerts["alerts"]
    for body in (b"not json", b"[1, 2]", bad_version, no_alerts, am_payload(status="weird")):
        response = post(receiver, "/alertmanager", body, AUTH)
        assert response.status_code == 400, body
    assert post(receiver, "/chat", {"channel": "#ops"}, AUTH).status_code == 400
    assert receiver.notifications() == [] and receiver.chat_messages() == []


def test_unknown_fields_from_a_newer_alertmanager_are_ignored(receiver: WebhookReceiver) -> None:
    assert post(receiver, "/alertmanager", am_payload(newField={"x": 1}), AUTH).status_code == 200
    assert len(receiver.notifications()) == 1


def test_body_size_limit(clock: FakeClock) -> None:
    rx = WebhookReceiver(TOKEN, clock=clock, max_body_bytes=2048)
    rx.start()
    try:
        big = am_payload()
        big["alerts"][0]["annotations"]["description"] = "x" * 4096
        assert post(rx, "/alertmanager", big, AUTH).status_code == 413
        assert post(rx, "/alertmanager", am_payload(), AUTH).status_code == 200
        assert len(rx.notifications()) == 1
    finally:
        rx.stop()


def test_routes_and_methods(receiver: WebhookReceiver) -> None:
    assert post(receiver, "/elsewhere", am_payload(), AUTH).status_code == 404
    assert httpx.get(f"{receiver.endpoint.url}/alertmanager", timeout=5).status_code == 404
    assert httpx.put(f"{receiver.endpoint.url}/alertmanager", headers=AUTH, timeout=5).status_code == 405


def test_chat_messages(receiver: WebhookReceiver, clock: FakeClock) -> None:
    body = {"text": "SEV2 declared", "channel": "#incidents", "blocks": [{"type": "section"}],
            "unfurl": False}
    assert post(receiver, "/chat", body, AUTH).status_code == 200
    [m] = receiver.chat_messages()
    assert (m.text, m.channel, m.blocks) == ("SEV2 declared", "#incidents", [{"type": "section"}])
    assert m.received_mono == clock.monotonic()
    assert receiver.notifications() == []
    assert receiver.wait_for_chat(lambda msg: "SEV2" in msg.text, timeout=1) == m


def test_subscriber_called_once_per_post(receiver: WebhookReceiver) -> None:
    calls: list[Notification] = []
    receiver.subscribe(calls.append)
    for status in ("firing", "resolved", "firing"):
        assert post(receiver, "/alertmanager", am_payload(status), AUTH).status_code == 200
    receiver.wait_idle(timeout=5)
    assert [c.status for c in calls] == ["firing", "resolved", "firing"]
    assert calls == receiver.notifications()


def test_broken_subscriber_does_not_break_the_receiver(receiver: WebhookReceiver) -> None:
    good: list[Notification] = []

    def broken(notification: Notification) -> None:
        raise RuntimeError("runbook exploded")

    receiver.subscribe(broken)
    receiver.subscribe(good.append)
    for _ in range(2):
        assert post(receiver, "/alertmanager", am_payload(), AUTH).status_code == 200
    receiver.wait_idle(timeout=5)
    assert len(good) == 2
    assert len(receiver.subscriber_errors) == 2
    assert isinstance(receiver.subscriber_errors[0][1], RuntimeError)
    assert httpx.get(f"{receiver.endpoint.url}/health", timeout=5).status_code == 200


def test_slow_subscriber_does_not_block_the_post() -> None:
    rx = WebhookReceiver(TOKEN)  # real clock
    release = threading.Event()
    seen: list[Notification] = []

    def slow(notification: Notification) -> None:
        release.wait(10)
        seen.append(notification)

    rx.subscribe(slow)
    rx.start()
    try:
        started = time.monotonic()
        for _ in range(3):
            assert post(rx, "/alertmanager", am_payload(), AUTH).status_code == 200
        assert time.monotonic() - started < 5  # generous: a blocking dispatch would hang for 10 s
        assert len(rx.notifications()) == 3 and seen == []
        release.set()
        rx.wait_idle(timeout=10)
        assert len(seen) == 3
    finally:
        release.set()
        rx.stop()


def test_wait_for_notification(receiver: WebhookReceiver, clock: FakeClock) -> None:
    post(receiver, "/alertmanager", am_payload("firing", "DemoRedisDown"), AUTH)
    mark = clock.monotonic()
    clock.advance(1)
    post(receiver, "/alertmanager", am_payload("resolved", "DemoRedisDown"), AUTH)
    found = receiver.wait_for_notification(
        lambda n: n.has_alert("DemoRedisDown"), timeout=1, after_mono=mark + 0.5
    )
    assert found.status is AlertStatus.RESOLVED
    with pytest.raises(WaitTimeout):
        receiver.wait_for_notification(lambda n: n.has_alert("DemoPostgresDown"), timeout=2)
    receiver.clear()
    assert receiver.notifications() == []


def test_lifecycle() -> None:
    rx = WebhookReceiver(TOKEN)
    with pytest.raises(StackError):
        _ = rx.endpoint
    with rx:
        url = rx.endpoint.url
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    rx.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)
    with pytest.raises(ConfigError):
        WebhookReceiver("")


def test_fake_receiver_records_and_dispatches_inline(clock: FakeClock) -> None:
    fake = FakeReceiver(clock)
    calls: list[Notification] = []
    fake.subscribe(calls.append)
    n = fake.post_alertmanager(am_payload())
    assert calls == [n] == fake.notifications()
    assert fake.post_chat({"text": "hi"}).text == "hi"
    with pytest.raises(ConfigError) as info:
        fake.post_alertmanager({"version": "4"})
    assert any(p.startswith("alerts") for p in info.value.problems)
