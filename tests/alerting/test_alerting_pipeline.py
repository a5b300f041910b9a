"""End to end with real processes: exporter -> Prometheus -> Alertmanager -> receiver.

A tiny exporter on loopback stands in for the demo target (same metric names),
so this test exercises the rules, the rendered configs, inhibition and the
receiver without the rest of the stack. Prints the measured latencies.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from harness.observe.alertmanager import AlertmanagerClient
from harness.observe.prometheus import AlertState, PrometheusClient
from harness.receiver import AlertStatus, WebhookReceiver
from harness.stack.config_render import (
    RULES_DIR,
    AlertmanagerConfig,
    PrometheusConfig,
    render_alertmanager_config,
    render_prometheus_config,
)
from harness.stack.wait import AllOf, HttpOk, Predicate, ProcessAlive, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(150),
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
        reason="prometheus / prometheus-alertmanager not installed",
    ),
]

TOKEN = "pipeline-token-7f3a"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Exporter:
    """Fake demo-target metrics: ~20 /orders requests per second, a controllable 5xx share."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    error_fraction: float = 0.0
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.requests = Counter("demo_http_requests_total", "requests", ("route", "method", "status"),
                                registry=self.registry)
        self.dependency_up = Gauge("demo_dependency_up", "dependency up", ("dependency",),
                                   registry=self.registry)
        for status in ("201", "500", "503"):
            self.requests.labels("/orders", "POST", status)
        for dependency in ("redis", "postgres"):
            self.dependency_up.labels(dependency).set(1)

    def tick_forever(self) -> None:
        while not self.stop_event.wait(0.1):
            errors = 2.0 * self.error_fraction
            self.requests.labels("/orders", "POST", "201").inc(2.0 - errors)
            if errors:
                self.requests.labels("/orders", "POST", "500").inc(errors)


@contextlib.contextmanager
def process(name: str, argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def since(start: float) -> float:
    return time.monotonic() - start


def test_alert_pipeline_end_to_end(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    timings: dict[str, float] = {}
    exporter = Exporter()
    exporter_port, prom_port, am_port = free_port(), free_port(), free_port()
    server, server_thread = start_http_server(exporter_port, addr="127.0.0.1", registry=exporter.registry)
    ticker = threading.Thread(target=exporter.tick_forever, daemon=True)
    ticker.start()
    receiver = WebhookReceiver(TOKEN)
    receiver.start()
    stack = contextlib.ExitStack()
    try:
        token_file = tmp_path / "receiver.token"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        am_yml = tmp_path / "alertmanager.yml"
        am_yml.write_text(render_alertmanager_config(AlertmanagerConfig(
            receiver_url=receiver.endpoint.url, credentials_file=str(token_file),
            group_wait_s=0.5, group_interval_s=1.0, repeat_interval_s=3600.0, resolve_timeout_s=300.0)))
        prom_yml = tmp_path / "prometheus.yml"
        prom_yml.write_text(render_prometheus_config(PrometheusConfig(
            scrape_interval_s=1.0, evaluation_interval_s=1.0,
            target_address=f"127.0.0.1:{exporter_port}", alertmanager_address=f"127.0.0.1:{am_port}",
            rule_files=[str(RULES_DIR / "*.yml")], external_labels={"drill_run": "pytest"},
            prometheus_address=f"127.0.0.1:{prom_port}")))
        am_argv = [
            "prometheus-alertmanager", f"--config.file={am_yml}", f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.external-url=http://127.0.0.1:{am_port}", "--log.level=info",
        ]
        prom_argv = [
            "prometheus", f"--config.file={prom_yml}", f"--web.listen-address=127.0.0.1:{prom_port}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}", "--web.enable-lifecycle",
            f"--web.external-url=http://127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1d",
            "--log.level=info",
        ]
        print("\nalertmanager:", " ".join(am_argv), "\nprometheus:", " ".join(prom_argv))
        started = time.monotonic()
        am_proc = stack.enter_context(process("alertmanager", am_argv, tmp_path / "alertmanager.log"))
        prom_proc = stack.enter_context(process("prometheus", prom_argv, tmp_path / "prometheus.log"))
        prom = stack.enter_context(PrometheusClient(f"http://127.0.0.1:{prom_port}"))
        am = stack.enter_context(AlertmanagerClient(f"http://127.0.0.1:{am_port}"))
        wait_for(AllOf([ProcessAlive(am_proc, "alertmanager", tmp_path / "alertmanager.log"),
                        HttpOk(f"http://127.0.0.1:{am_port}/-/ready")]), timeout=30)
        wait_for(AllOf([ProcessAlive(prom_proc, "prometheus", tmp_path / "prometheus.log"),
                        HttpOk(f"http://127.0.0.1:{prom_port}/-/ready")]), timeout=30)
        assert prom.healthy() and am.healthy()
        timings["stack ready"] = since(started)

        # Traffic must be visible as a rate before a fault can be detected.
        wait_for(Predicate(lambda: (prom.query_scalar(
            'sum(rate(demo_http_requests_total{job="demo-target"}[10s]))') or 0) > 5, "traffic rate visible"),
            timeout=30, poll_interval=0.2)
        rule_names = {r.name for r in prom.rules()}
        assert rule_names >= {"DemoHighErrorRatio", "DemoRedisDown", "DemoTargetRestarting"}
        assert all(r.health in ("ok", "unknown") for r in prom.rules())
        assert prom.alerts() == []
        prom.reload()  # lifecycle API enabled; the same config reloads cleanly
        am.reload()
        assert prom.healthy() and am.healthy()
        timings["scraping"] = since(started)

        # 1. error spike: 30 % of /orders answer 500.
        fault = time.monotonic()
        exporter.error_fraction = 0.3
        alert = prom.wait_for_alert("DemoHighErrorRatio", timeout=30)
        timings["errors -> firing in prometheus"] = since(fault)
        assert alert.state is AlertState.FIRING
        assert alert.labels["service"] == "demo-target" and alert.labels["severity"] == "critical"
        assert alert.annotations["runbook_id"] == "error_rate_spike"
        assert 0.2 < alert.value < 0.4
        firing = receiver.wait_for_notification(
            lambda n: n.has_alert("DemoHighErrorRatio", AlertStatus.FIRING), timeout=20)
        timings["errors -> firing notification"] = firing.received_mono - fault
        assert firing.receiver == "harness"
        assert firing.external_url == f"http://127.0.0.1:{am_port}"
        [payload] = firing.alerts
        assert payload.runbook_id == "error_rate_spike"
        assert payload.labels["drill_run"] == "pytest"  # external labels reach the notification
        assert payload.ends_at is None

        # 2. errors stop: the resolved notification follows once the 10 s window is clean.
        heal = time.monotonic()
        exporter.error_fraction = 0.0
        resolved = receiver.wait_for_notification(
            lambda n: n.has_alert("DemoHighErrorRatio", AlertStatus.RESOLVED), timeout=40)
        timings["errors stop -> resolved notification"] = resolved.received_mono - heal
        assert resolved.alerts[0].fingerprint == payload.fingerprint
        assert resolved.alerts[0].ends_at is not None

        # 3. Redis down plus the errors it causes: the cause is delivered, the symptom inhibited.
        fault = time.monotonic()
        exporter.dependency_up.labels("redis").set(0)
        exporter.error_fraction = 0.3
        redis_down = receiver.wait_for_notification(
            lambda n: n.has_alert("DemoRedisDown", AlertStatus.FIRING), timeout=20, after_mono=fault)
        timings["redis down -> firing notification"] = redis_down.received_mono - fault
        assert redis_down.alerts[0].runbook_id == "cache_service_failure"
        prom.wait_for_alert("DemoHighErrorRatio", timeout=30)
        timings["redis down -> symptom firing in prometheus"] = since(fault)

        wait_for(Predicate(lambda: bool(am.alerts(filters=['alertname="DemoHighErrorRatio"'])),
                           "DemoHighErrorRatio reached alertmanager"), timeout=15, poll_interval=0.2)
        time.sleep(3.0)  # several group_wait/group_interval periods for a (wrong) delivery to happen
        assert [a.name for a in prom.firing("DemoRedisDown")] == ["DemoRedisDown"]
        leaked = [n for n in receiver.notifications()
                  if n.received_mono >= fault and n.has_alert("DemoHighErrorRatio", AlertStatus.FIRING)]
        assert leaked == [], "an inhibited symptom alert was delivered while its cause was firing"
        [held] = am.alerts(filters=['alertname="DemoHighErrorRatio"'])
        assert held.inhibited and held.status.state == "suppressed", held.status

        # Everything that arrived came with the token; nothing was refused.
        assert receiver.rejected == 0
        receiver.wait_idle(timeout=5)
        timings["total"] = since(started)
    finally:
        stack.close()
        exporter.stop_event.set()
        server.shutdown()
        server.server_close()
        server_thread.join(5)
        receiver.stop()
        for name, seconds in timings.items():
            request.node.user_properties.append((name, round(seconds, 2)))
        print("\nmeasured seconds:\n" + "\n".join(f"  {k:45s} {v:6.2f}" for k, v in timings.items()))
        for log in ("prometheus.log", "alertmanager.log"):
            path = tmp_path / log
            if path.exists() and any("level=error" in line for line in path.read_text().splitlines()):
                print(f"\n{log} errors:\n" + "\n".join(
                    line for line in path.read_text().splitlines() if "level=error" in line)[-3000:])

