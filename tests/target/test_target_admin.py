"""Admin API, persistence across restarts and the supervisor's restart bookkeeping."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from target_procs import PostgresServer, RedisServer, TargetFactory

pytestmark = pytest.mark.integration

ORDER = {"sku": "sku-tea", "quantity": 3, "customer": "bob"}


def metric(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in exposition")


def test_rules_deploy_break_and_rollback(
    target_factory: TargetFactory, postgres: PostgresServer, redis: RedisServer
) -> None:
    target = target_factory(postgres.url, redis.url)
    target.wait_ready()
    admin = target.admin_headers
    with target.client() as client:
        assert client.post("/orders", json=ORDER).status_code == 201
        good = client.post(
            "/admin/rules",
            json={"rules": {"max_quantity": 10, "discount_pct": 50, "currency": "EUR"}},
            headers=admin,
        )
        assert good.status_code == 201 and good.json() == {"version": 2}
        discounted = client.post("/orders", json=ORDER)
        assert discounted.status_code == 201 and discounted.json()["total_cents"] == 3 * 225
        bad = client.post(
            "/admin/rules", json={"rules": {"max_quantity": -1, "discount_pct": 250}}, headers=admin
        )
        assert bad.status_code == 201 and bad.json() == {"version": 3}
        assert client.post("/orders", json=ORDER).status_code == 500
        assert client.get("/catalog").status_code == 500
        metrics = client.get("/metrics").text
        assert metric(metrics, "demo_rules_errors_total") == 2
        assert metric(metrics, "demo_rules_version") == 3
        assert metric(metrics, 'demo_http_requests_total{method="POST",route="/orders",status="500"}') == 1

        rolled = client.post("/admin/rules/rollback", json={"to_version": None}, headers=admin)
        assert rolled.status_code == 200 and rolled.json() == {"version": 2}
        assert client.post("/orders", json=ORDER).status_code == 201
        explicit = client.post("/admin/rules/rollback", json={"to_version": 1}, headers=admin)
        assert explicit.json() == {"version": 1}
        assert client.post("/admin/rules/rollback", json={}, headers=admin).status_code == 409
        assert client.post("/admin/rules/rollback", json={"to_version": 99}, headers=admin).status_code == 404
        rules = client.get("/admin/rules", headers=admin).json()
    assert rules["current"]["version"] == 1
    assert [(h["version"], h["action"]) for h in rules["history"]] == [
        (1, "deploy"),
        (2, "deploy"),
        (3, "deploy"),
        (2, "rollback"),
        (1, "rollback"),
    ]


def test_flags_breakers_and_restart_survive_sigkill(
    target_factory: TargetFactory, postgres: PostgresServer, redis: RedisServer
) -> None:
    target = target_factory(postgres.url, redis.url)
    target.wait_ready()
    admin = target.admin_headers
    with target.client() as client:
        state = client.put("/admin/flags/throttle_noncritical", json={"enabled": True}, headers=admin)
        assert state.status_code == 200 and state.json()["flags"]["throttle_noncritical"] is True
        assert client.put("/admin/flags/nope", json={"enabled": True}, headers=admin).status_code == 404
        assert client.put("/admin/flags/read_only", json={"enabled": "yes"}, headers=admin).status_code == 400
        state = client.post("/admin/breakers/postgres/open", headers=admin)
        assert state.json()["breakers"]["postgres"] == "open"
        assert client.post("/admin/breakers/kafka/open", headers=admin).status_code == 404
        assert (
            client.post("/admin/rules", json={"rules": {"max_quantity": 7}}, headers=admin).status_code == 201
        )
        assert client.get("/catalog").status_code == 429
        assert client.post("/orders", json=ORDER).status_code == 503

    before = target.status()
    assert before.restarts == 0 and before.last_exit_reason == "none" and before.child_pid
    os.kill(before.child_pid, signal.SIGKILL)
    after = target.wait_restarts(1)
    assert after.last_exit_reason == "killed"
    assert after.child_pid != before.child_pid
    assert after.supervisor_pid == before.supervisor_pid == target.process.pid

    target.wait_ready()
    with target.client() as client:
        state = client.get("/admin/state", headers=admin).json()
        metrics = client.get("/metrics").text
        assert client.get("/catalog").status_code == 429
        client.post("/admin/breakers/postgres/close", headers=admin)
        assert client.post("/orders", json=ORDER).status_code == 201
    assert state == {
        "flags": {"cache_bypass": False, "read_only": False, "throttle_noncritical": True},
        "breakers": {"redis": "closed", "postgres": "open"},
        "rules_version": 2,
        "restarts": 1,
    }
    assert metric(metrics, "demo_process_restarts") == 1
    assert metric(metrics, 'demo_feature_flag_enabled{flag="throttle_noncritical"}') == 1
    assert metric(metrics, 'demo_circuit_breaker_open{breaker="postgres"}') == 1
    assert metric(metrics, "demo_rules_version") == 2


def test_supervisor_stops_child_on_sigterm(
    target_factory: TargetFactory, postgres: PostgresServer, redis: RedisServer
) -> None:
    target = target_factory(postgres.url, redis.url)
    child = target.status().child_pid
    assert child is not None
    target.process.send_signal(signal.SIGTERM)
    assert target.process.wait(30) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert target.status().child_pid is None
    with pytest.raises(httpx.TransportError):
        httpx.get(target.url + "/health/live", timeout=2)
