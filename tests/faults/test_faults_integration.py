"""Each fault kind against the real local stack: its effect, measured through the target, and its revert."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from faults_stack import (
    DEFAULT_RULES,
    admin,
    assert_steady,
    create_order,
    eventually,
    make_ctx,
    status_of,
    target_url,
    timed_get,
)

from harness.faults import Fault, FaultLedger, FaultState, build_fault
from harness.faults.kinds_postgres import PostgresPoolExhaustionFault
from harness.faults.probes import count_orders
from harness.stack.base import Service, ServiceStatus, Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    local = pytest.importorskip("harness.stack.local")
    run_dir = tmp_path_factory.mktemp("faults-stack") / "run"
    live = local.LocalStack(local.LocalSettings(run_dir=run_dir, target_memory_limit_mb=200))
    try:
        live.up()
        yield live
    finally:
        live.down()


@pytest.fixture
def ledger(tmp_path: Path) -> FaultLedger:
    return FaultLedger(tmp_path / "faults.jsonl")


@contextmanager
def _run(stack: Stack, ledger: FaultLedger, kind: str, params: dict[str, object]) -> Iterator[Fault]:
    """Yield inside the fault; afterwards the ledger must hold nothing live and the stack be steady."""
    fault = build_fault(kind, {"ttl_seconds": 120, **params})
    ctx = make_ctx(stack, ledger=ledger)
    with fault.bind(ctx):
        assert ledger.entries()[fault.id].state == FaultState.ACTIVE
        yield fault
    assert fault.state == FaultState.REVERTED
    assert ledger.active() == []


def test_latency_on_the_target_route(stack: Stack, ledger: FaultLedger) -> None:
    _, baseline = timed_get(stack, "/catalog")
    with _run(stack, ledger, "latency", {"route": "target", "latency_ms": 400}):
        status, slow = timed_get(stack, "/catalog")
        assert status == 200 and slow >= 0.38
    _, after = timed_get(stack, "/catalog")
    assert after < 0.38 and baseline < 0.38
    assert_steady(stack)


def test_latency_on_the_redis_dependency(stack: Stack, ledger: FaultLedger) -> None:
    order_id = create_order(stack).json()["id"]
    with _run(stack, ledger, "latency", {"route": "redis", "latency_ms": 300, "direction": "both"}):
        status, slow = timed_get(stack, f"/orders/{order_id}")
        assert status in (200, 503) and slow >= 0.3  # each Redis round trip waits 2 x 300 ms
    status, fast = timed_get(stack, f"/orders/{order_id}")
    assert status == 200 and fast < 0.3
    assert_steady(stack)


def test_http_errors_fraction_with_route_filter(stack: Stack, ledger: FaultLedger) -> None:
    with _run(stack, ledger, "http_errors", {"status": 503, "fraction": 0.5, "path_regex": "^/catalog"}):
        with httpx.Client(timeout=5) as client:
            catalog, live = target_url(stack, "/catalog"), target_url(stack, "/health/live")
            statuses = [client.get(catalog).status_code for _ in range(200)]
            ready = [client.get(live).status_code for _ in range(30)]
        assert 50 <= statuses.count(503) <= 150
        assert set(ready) == {200}
    with httpx.Client(timeout=5) as client:
        assert {client.get(target_url(stack, "/catalog")).status_code for _ in range(50)} == {200}
    assert_steady(stack)


@pytest.mark.parametrize("mode", ["kill", "freeze"])
def test_redis_loss(stack: Stack, ledger: FaultLedger, mode: str) -> None:
    def ready() -> int:
        return status_of(lambda: httpx.get(target_url(stack, "/health/ready"), timeout=5))

    with _run(stack, ledger, "redis_loss", {"mode": mode}):
        expected = ServiceStatus.STOPPED if mode == "kill" else ServiceStatus.PAUSED
        assert stack.status(Service.REDIS) == expected
        eventually(lambda: ready() == 503, "target reports redis down")
    assert stack.status(Service.REDIS) == ServiceStatus.RUNNING
    assert_steady(stack)


@pytest.mark.parametrize("mode", ["stop", "kill"])
def test_postgres_loss_and_data_intact(stack: Stack, ledger: FaultLedger, mode: str) -> None:
    acknowledged = [create_order(stack).json()["id"] for _ in range(5)]
    with _run(stack, ledger, "postgres_loss", {"mode": mode}) as fault:
        eventually(lambda: status_of(lambda: create_order(stack, timeout=5)) == 503, "writes refused")
    assert fault.undo["rows_after"] >= fault.undo["rows_before"] >= 5
    for order_id in acknowledged:
        assert httpx.get(target_url(stack, f"/orders/{order_id}"), timeout=5).status_code == 200
    assert_steady(stack)


def test_postgres_pool_exhaustion(stack: Stack, ledger: FaultLedger) -> None:
    with _run(stack, ledger, "postgres_pool_exhaustion", {}) as fault:
        assert isinstance(fault, PostgresPoolExhaustionFault)
        assert fault.undo["held"] >= fault.undo["max_connections"] - 5
        eventually(lambda: status_of(lambda: create_order(stack, timeout=5)) in (500, 503, 0),
                   "writes fail without connections")
    ctx = make_ctx(stack)
    assert count_orders(ctx) > 0
    assert_steady(stack)


def test_oom_kill_restarts_the_target(stack: Stack, ledger: FaultLedger) -> None:
    before = admin(stack, "GET", "/admin/state").json()["restarts"]
    with _run(stack, ledger, "oom_kill", {"mb_per_second": 100}) as fault:
        def restarted() -> bool:
            try:
                return bool(admin(stack, "GET", "/admin/state").json()["restarts"] > before)
            except httpx.HTTPError:
                return False

        eventually(restarted, "target OOM-killed and restarted", timeout=90)
    assert fault.undo["restarts_after"] > fault.undo["restarts_before"] == before
    supervisor = json.loads((stack.run_dir / "target-supervisor.json").read_text())
    assert supervisor["last_exit_reason"] == "oom_killed"
    assert fault.undo["last_exit_reason"] == "oom_killed"
    assert_steady(stack)


def test_bad_rules_deploy_and_rollback(stack: Stack, ledger: FaultLedger) -> None:
    with _run(stack, ledger, "bad_rules_deploy", {}) as fault:
        assert create_order(stack).status_code == 500
        assert httpx.get(target_url(stack, "/catalog"), timeout=5).status_code == 500
    current = admin(stack, "GET", "/admin/rules").json()["current"]
    assert current["rules"] == DEFAULT_RULES
    assert fault.undo["bad_version"] > fault.undo["previous_version"]
    assert_steady(stack)


def test_bad_rules_revert_leaves_an_earlier_rollback_alone(stack: Stack, ledger: FaultLedger) -> None:
    with _run(stack, ledger, "bad_rules_deploy", {}) as fault:
        previous = fault.undo["previous_version"]
        response = admin(stack, "POST", "/admin/rules/rollback", {"to_version": previous})
        assert response.status_code == 200  # the runbook got there first
    assert fault.undo["revert"] == "already rolled back"
    assert_steady(stack)


def test_process_pause(stack: Stack, ledger: FaultLedger) -> None:
    with _run(stack, ledger, "process_pause", {}):
        assert stack.status(Service.TARGET) == ServiceStatus.PAUSED
        assert status_of(lambda: httpx.get(target_url(stack, "/health/live"), timeout=1.0)) == 0
    assert_steady(stack)


def test_cpu_starvation_slows_the_target(stack: Stack, ledger: FaultLedger) -> None:
    def mean_latency() -> float:
        samples = []
        for _ in range(25):
            status, seconds = timed_get(stack, "/health/live")
            assert status == 200
            samples.append(seconds)
            time.sleep(0.02)
        return statistics.fmean(samples)

    baseline = mean_latency()
    with _run(stack, ledger, "cpu_starvation", {"duty": 0.8, "period_ms": 200}):
        starved = mean_latency()
    assert starved > baseline + 0.02, (baseline, starved)
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING
    assert_steady(stack)
