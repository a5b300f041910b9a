"""Dependency failures: Redis killed, Postgres stopped (own servers, not the session ones)."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from target_procs import Target, TargetFactory, postgres_server, redis_server

pytestmark = pytest.mark.integration

ORDER = {"sku": "sku-bread", "quantity": 1, "customer": "carol"}
TIMEOUT_S = 0.5


def metric(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in exposition")


def test_redis_killed_then_cache_bypass(target_factory: TargetFactory) -> None:
    with postgres_server() as pg, redis_server() as redis:
        target = target_factory(pg.url, redis.url, DEMO_DEP_TIMEOUT_SECONDS=str(TIMEOUT_S))
        target.wait_ready()
        with target.client() as client:
            order_id = client.post("/orders", json=ORDER).json()["id"]
            assert client.get(f"/orders/{order_id}").status_code == 200
            redis.kill()
            started = time.monotonic()
            during = client.get(f"/orders/{order_id}")
            ready = client.get("/health/ready")
            elapsed = time.monotonic() - started
            assert during.status_code == 503, during.text
            assert ready.status_code == 503 and "redis" in ready.json()["reasons"]
            assert elapsed < 10
            # Writes do not need Redis (the rate limiter fails open).
            assert client.post("/orders", json=ORDER).status_code == 201

            flag = client.put(
                "/admin/flags/cache_bypass", json={"enabled": True}, headers=target.admin_headers
            )
            assert flag.status_code == 200
            bypassed = client.get(f"/orders/{order_id}")
            assert bypassed.status_code == 200 and bypassed.headers["x-cache"] == "bypass"
            assert client.get("/health/ready").status_code == 200
            metrics = client.get("/metrics").text
        assert metric(metrics, 'demo_cache_requests_total{result="error"}') >= 1
        assert metric(metrics, 'demo_cache_requests_total{result="bypass"}') >= 1
        assert metric(metrics, 'demo_dependency_errors_total{dependency="redis"}') >= 1
        assert (
            metric(metrics, 'demo_http_requests_total{method="GET",route="/orders/{id}",status="503"}') >= 1
        )


def test_redis_breaker_open_reads_postgres(target_factory: TargetFactory) -> None:
    with postgres_server() as pg, redis_server() as redis:
        target = target_factory(pg.url, redis.url, DEMO_DEP_TIMEOUT_SECONDS=str(TIMEOUT_S))
        target.wait_ready()
        with target.client() as client:
            order_id = client.post("/orders", json=ORDER).json()["id"]
            redis.kill()
            assert client.get(f"/orders/{order_id}").status_code == 503
            client.post("/admin/breakers/redis/open", headers=target.admin_headers)
            assert client.get(f"/orders/{order_id}").status_code == 200
            assert client.get("/health/ready").status_code == 200


def test_postgres_stopped_fails_fast_and_recovers(target_factory: TargetFactory) -> None:
    with postgres_server() as pg, redis_server() as redis:
        target = target_factory(pg.url, redis.url, DEMO_DEP_TIMEOUT_SECONDS=str(TIMEOUT_S))
        target.wait_ready()
        with target.client() as client:
            assert client.post("/orders", json=ORDER).status_code == 201
            pg.stop()
            started = time.monotonic()
            write = client.post("/orders", json=ORDER)
            ready = client.get("/health/ready")
            elapsed = time.monotonic() - started
            assert write.status_code == 503, write.text
            assert ready.status_code == 503 and "postgres" in ready.json()["reasons"]
            assert elapsed < 2 * (TIMEOUT_S * 2 + 1.0), elapsed
            assert client.get("/health/live").status_code == 200

            pg.start()
            target.wait_ready(timeout=30)
            assert client.post("/orders", json=ORDER).status_code == 201
            metrics = client.get("/metrics").text
        assert metric(metrics, 'demo_dependency_errors_total{dependency="postgres"}') >= 1
        assert metric(metrics, 'demo_http_requests_total{method="POST",route="/orders",status="503"}') >= 1


def test_starts_before_dependencies_exist(target_factory: TargetFactory) -> None:
    """Start-up succeeds with nothing listening; ready turns 200 once both answer."""
    with postgres_server() as pg, redis_server() as redis:
        pg.stop()
        redis.kill()
        target: Target = target_factory(pg.url, redis.url, DEMO_DEP_TIMEOUT_SECONDS=str(TIMEOUT_S))
        with target.client() as client:
            assert client.get("/health/live").status_code == 200
            assert client.get("/health/ready").status_code == 503
            assert client.post("/orders", json=ORDER).status_code == 503
        pg.start()
        redis.start()
        target.wait_ready(timeout=30)
        with target.client() as client:
            assert client.post("/orders", json=ORDER).status_code == 201


def test_paused_dependencies_answer_503_within_the_timeout(target_factory: TargetFactory) -> None:
    """SIGSTOPped servers accept nothing and answer nothing: every call must still be bounded."""
    with postgres_server() as pg, redis_server() as redis:
        target = target_factory(pg.url, redis.url, DEMO_DEP_TIMEOUT_SECONDS=str(TIMEOUT_S))
        target.wait_ready()
        assert pg.process is not None and redis.process is not None
        with target.client() as client:
            order_id = client.post("/orders", json=ORDER).json()["id"]
            os.kill(redis.process.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                read = client.get(f"/orders/{order_id}")
                ready = client.get("/health/ready")
                elapsed = time.monotonic() - started
                assert read.status_code == 503 and ready.status_code == 503
                assert elapsed < 3 * (2 * TIMEOUT_S) + 2, elapsed
            finally:
                os.kill(redis.process.pid, signal.SIGCONT)
            target.wait_ready(timeout=30)
            postmaster = psutil.Process(pg.process.pid)
            paused = [postmaster, *postmaster.children(recursive=True)]  # one backend per connection
            for proc in paused:
                proc.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                write = client.post("/orders", json=ORDER)
                elapsed = time.monotonic() - started
                assert write.status_code == 503, write.text
                assert elapsed < 2 * TIMEOUT_S + 2, elapsed
            finally:
                for proc in paused:
                    proc.send_signal(signal.SIGCONT)
            target.wait_ready(timeout=30)
            assert client.post("/orders", json=ORDER).status_code == 201
            assert client.get(f"/orders/{order_id}").status_code == 200
