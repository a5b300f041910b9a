"""The fault proxy against a real echo server and a real HTTP server (all loopback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from faults_support import RunningProxy, start_proxy, stop_proxy

from harness.errors import ConfigError, FaultError
from harness.faults import FaultContext, FaultState, build_fault
from harness.faults.proxy_client import ProxyClient
from harness.faults.proxy_routes import validate_config
from harness.paths import repo_root
from harness.stack.base import Endpoint, FakeStack, Service
from harness.stack.wait import Predicate, wait_for


def _echo_roundtrip(port: int, payload: bytes = b"ping", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_tcp_relay_passes_bytes_unchanged(proxy: RunningProxy) -> None:
    payload = bytes(range(256)) * 2000
    assert _echo_roundtrip(proxy.ports["echo"], payload) == payload


def test_http_keep_alive_content_length_chunked_and_post(proxy: RunningProxy) -> None:
    base = f"http://127.0.0.1:{proxy.ports['web']}"
    with httpx.Client(base_url=base, timeout=5) as client:
        for i in range(20):
            assert client.get(f"/x/{i}").text == f"upstream saw /x/{i}"
        assert client.get("/chunked").text == "hello chunked world"
        assert client.post("/p", content=b"abc" * 1000).content == b"echo:" + b"abc" * 1000


def test_tcp_latency_is_added(proxy: RunningProxy) -> None:
    port = proxy.ports["echo"]
    start = time.perf_counter()
    _echo_roundtrip(port)
    baseline = time.perf_counter() - start
    with ProxyClient(proxy.admin_url) as client:
        attributes = {"latency_ms": 300, "direction": "both"}
        client.add_toxic("echo", "latency", ttl_seconds=30, attributes=attributes)
        start = time.perf_counter()
        assert _echo_roundtrip(port) == b"ping"
        delayed = time.perf_counter() - start
    assert delayed >= 0.55  # 300 ms each way
    assert delayed > baseline + 0.5


def test_http_latency_is_added(proxy: RunningProxy) -> None:
    url = f"http://127.0.0.1:{proxy.ports['web']}/slow"
    with ProxyClient(proxy.admin_url) as admin, httpx.Client(timeout=10) as client:
        admin.add_toxic("web", "latency", ttl_seconds=30, attributes={"latency_ms": 250})
        start = time.perf_counter()
        assert client.get(url).status_code == 200
        assert time.perf_counter() - start >= 0.24


def test_http_error_fraction_and_filters(proxy: RunningProxy) -> None:
    base = f"http://127.0.0.1:{proxy.ports['web']}"
    with ProxyClient(proxy.admin_url) as admin, httpx.Client(base_url=base, timeout=5) as client:
        admin.add_toxic(
            "web", "http_error", toxicity=0.3, ttl_seconds=60,
            attributes={"status": 503, "path_regex": "^/orders", "methods": ["GET"]},
        )
        statuses = [client.get("/orders/1").status_code for _ in range(400)]
        errors = statuses.count(503)
        assert set(statuses) <= {200, 503}
        assert 60 <= errors <= 180  # 30 % of 400 = 120, generous bounds
        # filters: other paths and methods never fail
        assert all(client.get("/catalog").status_code == 200 for _ in range(50))
        assert all(client.post("/orders", content=b"x").status_code == 200 for _ in range(50))
        admin.clear("web")
        failed = client.get("/orders/1")
        assert failed.status_code == 200


def test_http_error_body_is_json_and_upstream_not_contacted(proxy: RunningProxy) -> None:
    base = f"http://127.0.0.1:{proxy.ports['web']}"
    with ProxyClient(proxy.admin_url) as admin, httpx.Client(base_url=base, timeout=5) as client:
        toxic_id = admin.add_toxic("web", "http_error", ttl_seconds=60, attributes={"status": 500})
        response = client.get("/anything")
        assert response.status_code == 500
        assert response.json()["toxic"] == toxic_id
        assert response.headers["X-Fault-Injected"] == toxic_id


def test_tcp_blackhole_holds_data(proxy: RunningProxy) -> None:
    with ProxyClient(proxy.admin_url) as admin:
        admin.add_toxic("echo", "timeout", ttl_seconds=30, attributes={"timeout_ms": 0})
        with socket.create_connection(("127.0.0.1", proxy.ports["echo"]), timeout=1.0) as sock:
            sock.sendall(b"hello")
            with pytest.raises(TimeoutError):
                sock.recv(10)


def test_tcp_timeout_closes_connection(proxy: RunningProxy) -> None:
    with ProxyClient(proxy.admin_url) as admin:
        admin.add_toxic("echo", "timeout", ttl_seconds=30, attributes={"timeout_ms": 200})
        with socket.create_connection(("127.0.0.1", proxy.ports["echo"]), timeout=5.0) as sock:
            sock.sendall(b"hello")
            assert sock.recv(10) == b""  # closed without data


def test_reset_peer_sends_rst_to_open_connection(proxy: RunningProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.ports["echo"]), timeout=5.0) as sock:
        sock.sendall(b"a")
        assert sock.recv(1) == b"a"
        with ProxyClient(proxy.admin_url) as admin:
            admin.add_toxic("echo", "reset_peer", ttl_seconds=30)
        with pytest.raises(ConnectionResetError):
            for _ in range(50):
                sock.sendall(b"b")
                if sock.recv(1) == b"":
                    break
                time.sleep(0.05)


def test_toxic_removes_itself_at_ttl(proxy: RunningProxy) -> None:
    with ProxyClient(proxy.admin_url) as admin:
        admin.add_toxic("web", "http_error", ttl_seconds=0.5)
        toxics = admin.toxics("web")
        assert len(toxics) == 1 and 0 < toxics[0]["remaining_seconds"] <= 0.5
        wait_for(Predicate(lambda: admin.toxics("web") == [], "toxic expired"), timeout=10)
        assert httpx.get(f"http://127.0.0.1:{proxy.ports['web']}/", timeout=5).status_code == 200


def test_remove_clear_and_reset_endpoints(proxy: RunningProxy) -> None:
    with ProxyClient(proxy.admin_url) as admin:
        first = admin.add_toxic("web", "latency", ttl_seconds=60, attributes={"latency_ms": 1},
                                toxic_id="mine")
        assert first == "mine"
        assert admin.remove_toxic("web", "mine") is True
        assert admin.remove_toxic("web", "mine") is False  # idempotent
        admin.add_toxic("web", "latency", ttl_seconds=60, attributes={"latency_ms": 1})
        admin.add_toxic("echo", "latency", ttl_seconds=60, attributes={"latency_ms": 1})
        assert admin.clear("web") == 1
        admin.add_toxic("web", "latency", ttl_seconds=60, attributes={"latency_ms": 1})
        assert admin.reset() == 2
        assert all(route["toxics"] == [] for route in admin.routes())


def test_invalid_toxics_are_refused(proxy: RunningProxy) -> None:
    with ProxyClient(proxy.admin_url) as admin:
        with pytest.raises(FaultError, match="ttl_seconds"):
            admin.add_toxic("web", "latency", ttl_seconds=-1, attributes={"latency_ms": 1})
        with pytest.raises(FaultError, match="not available on a tcp route"):
            admin.add_toxic("echo", "http_error", ttl_seconds=5)
        with pytest.raises(FaultError, match="latency_ms"):
            admin.add_toxic("web", "latency", ttl_seconds=5, attributes={"latency": 1})
        with pytest.raises(FaultError, match="no such route"):
            admin.add_toxic("nope", "latency", ttl_seconds=5, attributes={"latency_ms": 1})


def test_upstream_down_answers_502(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    running = start_proxy(tmp_path, [{"name": "web", "mode": "http", "listen": {"port": 0},
                                      "upstream": {"port": dead_port}}])
    try:
        assert httpx.get(f"http://127.0.0.1:{running.ports['web']}/", timeout=5).status_code == 502
    finally:
        stop_proxy(running.process)


@pytest.mark.parametrize("where", ["listen", "upstream", "admin"])
def test_non_loopback_addresses_are_refused(tmp_path: Path, where: str) -> None:
    route = {"name": "web", "mode": "http", "listen": {"host": "127.0.0.1", "port": 0},
             "upstream": {"host": "127.0.0.1", "port": 80}}
    config: dict[str, object] = {"admin": {"host": "127.0.0.1", "port": 0}, "routes": [route]}
    if where == "admin":
        config["admin"] = {"host": "0.0.0.0", "port": 0}
    else:
        route[where] = {"host": "10.1.2.3", "port": 81}
    with pytest.raises(ConfigError, match="not a loopback address"):
        validate_config(config)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-m", "harness.faults.proxy", "--config", str(path)],
        cwd=repo_root(), capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert b"loopback" in result.stderr


def test_proxy_fault_on_a_fake_stack_expires_in_the_proxy(tmp_path: Path, echo_server: int) -> None:
    running = start_proxy(tmp_path, [{"name": "redis", "mode": "tcp", "listen": {"port": 0},
                                      "upstream": {"port": echo_server}}])
    try:
        port = int(running.admin_url.rsplit(":", 1)[1])
        stack = FakeStack(endpoints={Service.FAULT_PROXY: Endpoint("127.0.0.1", port)}, run_dir=tmp_path)
        ctx = FaultContext(stack=stack, install_signal_handlers=False)
        fault = build_fault("latency", {"route": "redis", "latency_ms": 50, "ttl_seconds": 0.5})
        fault.inject(ctx)
        assert fault.status(ctx) == FaultState.ACTIVE
        with ProxyClient(running.admin_url) as admin:
            assert [t["id"] for t in admin.toxics("redis")] == [f"fault-{fault.id}"]
            wait_for(Predicate(lambda: fault.status(ctx) == FaultState.EXPIRED, "toxic expired"), timeout=10)
            assert admin.toxics("redis") == []
        fault.revert(ctx)  # already gone in the proxy: harmless
        fault.revert(ctx)
        assert fault.status(ctx) == FaultState.REVERTED
    finally:
        stop_proxy(running.process)


def test_tcp_bandwidth_limit(proxy: RunningProxy) -> None:
    payload = b"x" * 12_500  # 100 kbit
    with ProxyClient(proxy.admin_url) as admin:
        admin.add_toxic("echo", "bandwidth", ttl_seconds=60, attributes={"rate_kbps": 50})
        start = time.perf_counter()
        assert _echo_roundtrip(proxy.ports["echo"], payload, timeout=20) == payload
        assert time.perf_counter() - start >= 1.5  # 2 s at 50 kbit/s


def test_tcp_slow_close_delays_the_close(proxy: RunningProxy) -> None:
    def close_roundtrip() -> float:
        with socket.create_connection(("127.0.0.1", proxy.ports["echo"]), timeout=10) as sock:
            sock.sendall(b"bye")
            start = time.perf_counter()
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(100):
                pass
            return time.perf_counter() - start

    assert close_roundtrip() < 0.5
    with ProxyClient(proxy.admin_url) as admin:
        admin.add_toxic("echo", "slow_close", ttl_seconds=60, attributes={"delay_ms": 600})
        assert close_roundtrip() >= 0.55
