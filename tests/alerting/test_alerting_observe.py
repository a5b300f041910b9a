"""Prometheus/Alertmanager clients: result parsing and error translation.

The happy paths also run against the real servers in test_alerting_pipeline.py;
here canned answers (httpx.MockTransport) cover shapes and failures that a
healthy server will not produce on demand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from harness.clock import FakeClock
from harness.errors import StackError, WaitTimeout
from harness.observe.alertmanager import AlertmanagerClient, Matcher
from harness.observe.prometheus import AlertState, PrometheusClient

Handler = Callable[[httpx.Request], httpx.Response]


def prom(handler: Handler, clock: FakeClock | None = None) -> PrometheusClient:
    return PrometheusClient("http://prom.invalid:9090/", transport=httpx.MockTransport(handler),
                            clock=clock or FakeClock())


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def test_query_vector_and_scalar() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        query = request.url.params["query"]
        if query == "up":
            return ok({"resultType": "vector", "result": [
                {"metric": {"job": "demo-target"}, "value": [1700000000.5, "1"]},
                {"metric": {"job": "prometheus"}, "value": [1700000000.5, "0"]}]})
        if query == "scalar(up)":
            return ok({"resultType": "scalar", "result": [1700000000.5, "NaN"]})
        if query == "empty":
            return ok({"resultType": "vector", "result": []})
        return ok({"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.25"]}]})

    client = prom(handler)
    samples = client.query("up")
    assert [(s.labels["job"], s.value, s.timestamp) for s in samples] == [
        ("demo-target", 1.0, 1700000000.5), ("prometheus", 0.0, 1700000000.5)]
    assert math.isnan(client.query("scalar(up)")[0].value)
    assert client.query_scalar("scalar(up)") is None  # NaN means "no value"
    assert client.query_scalar("empty") is None
    assert client.query_scalar("one") == 0.25
    with pytest.raises(StackError, match="2 series"):
        client.query_scalar("up")


def test_query_errors_become_stack_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        if query == "bad(":
            error = {"status": "error", "errorType": "bad_data", "error": "parse error"}
            return httpx.Response(400, json=error)
        if query == "html":
            return httpx.Response(200, text="<html>")
        if query == "matrix":
            return ok({"resultType": "matrix", "result": []})
        if query == "garbage":
            return ok({"resultType": "vector", "result": [{"metric": {}}]})
        raise httpx.ConnectError("connection refused", request=request)

    client = prom(handler)
    for query, text in (("bad(", "parse error"), ("html", "non-JSON"), ("matrix", "matrix"),
                        ("garbage", "unexpected"), ("down", "failed")):
        with pytest.raises(StackError, match=text) as info:
            client.query(query)
        if query in ("html", "garbage", "down"):
            assert info.value.__cause__ is not None


def test_alerts_rules_and_wait() -> None:
    alerts: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/alerts":
            return ok({"alerts": alerts})
        if request.url.path == "/api/v1/rules":
            return ok({"groups": [{"name": "demo-target", "file": "/r.yml", "interval": 1, "rules": [
                {"type": "alerting", "name": "DemoRedisDown", "query": "x == 0", "health": "ok",
                 "state": "inactive", "alerts": [], "duration": 1, "labels": {}, "annotations": {}}]}]})
        return httpx.Response(404)

    clock = FakeClock()
    client = prom(handler, clock)
    assert client.alerts() == []
    [rule] = client.rules()
    assert (rule.group, rule.file, rule.name, rule.state, rule.health) == (
        "demo-target", "/r.yml", "DemoRedisDown", "inactive", "ok")
    with pytest.raises(WaitTimeout):
        client.wait_for_alert("DemoRedisDown", timeout=3)
    assert clock.sleeps  # the wait polled on the injected clock
    alerts.append({"labels": {"alertname": "DemoRedisDown", "service": "demo-target"},
                   "annotations": {"runbook_id": "cache_service_failure"}, "state": "firing",
                   "activeAt": "2026-11-22T00:10:01.123456789Z", "value": "0e+00"})
    alert = client.wait_for_alert("DemoRedisDown", timeout=3)
    assert alert.state is AlertState.FIRING and alert.name == "DemoRedisDown"
    assert alert.active_at == datetime(2026, 11, 22, 0, 10, 1, 123456, tzinfo=UTC)
    assert client.firing("DemoRedisDown") == [alert] and client.firing("Other") == []


def test_health_and_reload() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/-/ready":
            return httpx.Response(503)
        if request.url.path == "/-/reload":
            return httpx.Response(403, text="Lifecycle API is not enabled.")
        return httpx.Response(404)

    client = prom(handler)
    assert client.healthy() is False
    with pytest.raises(StackError, match="Lifecycle"):
        client.reload()
    assert calls == ["GET /-/ready", "POST /-/reload"]
    unreachable = PrometheusClient("http://127.0.0.1:1", timeout=0.5)  # nothing listens on port 1
    assert unreachable.healthy() is False
    with pytest.raises(StackError):
        unreachable.alerts()


def test_alertmanager_alerts_and_silences() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v2/alerts":
            return httpx.Response(200, json=[{
                "labels": {"alertname": "DemoHighErrorRatio", "service": "demo-target"},
                "annotations": {}, "startsAt": "2026-11-22T00:10:01.1Z", "endsAt": "2026-11-22T00:14:01.1Z",
                "updatedAt": "2026-11-22T00:10:02Z", "fingerprint": "abc", "generatorURL": "",
                "receivers": [{"name": "harness"}],
                "status": {"state": "suppressed", "inhibitedBy": ["def"], "silencedBy": []}}])
        if request.url.path == "/api/v2/silences" and request.method == "POST":
            return httpx.Response(200, json={"silenceID": "s-1"})
        if request.url.path == "/api/v2/silence/s-1":
            return httpx.Response(200)
        return httpx.Response(500, text="boom")

    clock = FakeClock()
    client = AlertmanagerClient("http://am.invalid:9093", transport=httpx.MockTransport(handler), clock=clock)
    [alert] = client.alerts(filters=['alertname="DemoHighErrorRatio"'])
    assert alert.inhibited and not alert.silenced and alert.receiver_names == ["harness"]
    assert seen[-1].url.params.get_list("filter") == ['alertname="DemoHighErrorRatio"']
    silence = client.create_silence([Matcher(name="alertname", value="DemoHighErrorRatio")], duration_s=60)
    assert silence == "s-1"
    body = seen[-1].content.decode()
    assert '"isRegex":false' in body.replace(" ", "") and "2026-01-01T00:01:00" in body
    client.expire_silence("s-1")
    with pytest.raises(StackError, match="boom"):
        client.silences()
