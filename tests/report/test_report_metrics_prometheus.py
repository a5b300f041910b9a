"""capture_metrics against a real Prometheus scraping a small local exporter of the demo metrics."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from report_html import parse
from report_samples import failing_drill

from harness.clock import SYSTEM_CLOCK
from harness.drill.results import RunResults
from harness.drill.timeline import EventKind, TimelineEvent
from harness.errors import ConfigError, StackError
from harness.report.metrics import MetricKey, MetricSeriesSet, capture_metrics, metrics_path
from harness.report.render import page_name, render_run
from harness.stack.wait import Predicate, ProcessAlive, wait_for

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _traffic(registry: CollectorRegistry, stop: threading.Event) -> None:
    requests = Counter(
        "demo_http_requests_total", "requests", ["route", "method", "status"], registry=registry
    )
    duration = Histogram(
        "demo_http_request_duration_seconds",
        "latency",
        ["route", "method"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        registry=registry,
    )
    requests.labels("/health/live", "GET", "200").inc(0)
    rng = random.Random(7)
    while not stop.wait(0.02):
        route = rng.choice(["/orders", "/orders/{id}", "/catalog"])
        status = "503" if rng.random() < 0.1 else "200"
        requests.labels(route, "GET", status).inc()
        duration.labels(route, "GET").observe(rng.uniform(0.004, 0.2))
        requests.labels("/health/live", "GET", "200").inc()  # not a user route: must not count


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt-get install -y prometheus)")
    registry = CollectorRegistry()
    stop = threading.Event()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    traffic = threading.Thread(target=_traffic, args=(registry, stop), daemon=True)
    traffic.start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.server_port}']\n"
    )
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            [ProcessAlive(proc, "prometheus", log), Predicate(lambda: _ready(url), "prometheus ready")],
            timeout=60,
            poll_interval=0.2,
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        stop.set()
        traffic.join(timeout=5)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200


def _has_rate(url: str) -> bool:
    response = httpx.get(
        f"{url}/api/v1/query",
        params={"query": 'count_over_time(demo_http_requests_total{route="/catalog",status="200"}[1m])'},
        timeout=2.0,
    )
    result = response.json()["data"]["result"]
    return bool(result) and float(result[0]["value"][1]) >= 8


def test_capture_metrics_from_real_prometheus(prometheus: str, tmp_path: Path) -> None:
    start = SYSTEM_CLOCK.now()
    wait_for(Predicate(lambda: _has_rate(prometheus), "8 scrapes stored"), timeout=90, poll_interval=0.5)
    end = SYSTEM_CLOCK.now()
    captured = capture_metrics(
        prometheus, start - timedelta(seconds=2), end, 1.0, rate_window="5s", thresholds={"error_ratio": 0.05}
    )
    assert {s.key for s in captured.series} == set(MetricKey)
    by_key = {s.key: s for s in captured.series}
    for series in by_key.values():
        assert len(series.points) >= 3, series
    rps = [v for _, v in by_key[MetricKey.REQUESTS_PER_SECOND].points]
    assert all(5 < v < 200 for v in rps[-3:]), rps  # ~45 req/s on user routes
    health = capture_metrics(
        prometheus,
        start - timedelta(seconds=2),
        end,
        1.0,
        queries={"health": 'sum(rate(demo_http_requests_total{route="/health/live"}[5s]))'},
    )
    assert [s.key for s in health.series] == ["health"]
    health_at = dict(health.series[0].points)
    both = [(v, health_at[t]) for t, v in by_key[MetricKey.REQUESTS_PER_SECOND].points if t in health_at]
    assert both and all(user < 1.5 * other for user, other in both)  # /health/live is left out
    errors = [v for _, v in by_key[MetricKey.ERROR_RATIO].points]
    assert all(0 <= v <= 1 for v in errors) and max(errors) > 0, errors
    p95 = [v for _, v in by_key[MetricKey.P95_LATENCY_MS].points]
    assert all(5 <= v <= 1000 for v in p95), p95  # observations are 4..200 ms
    stamps = [t for t, _ in by_key[MetricKey.REQUESTS_PER_SECOND].points]
    assert stamps == sorted(stamps) and start.timestamp() - 3 <= stamps[0] <= end.timestamp() + 1

    # saved, loaded and drawn on the drill page
    run_dir = tmp_path / "reports" / "r1"
    anchor = start + (end - start) / 2
    drill = failing_drill()
    drill = drill.model_copy(
        update={
            "run_id": "r1",
            "started": start,
            "finished": end,
            "timeline": [
                TimelineEvent(kind=EventKind.FAULT_INJECTED, wall=anchor, mono=1.0, detail="latency"),
                TimelineEvent(kind=EventKind.FAULT_REVERTED, wall=end, mono=2.0),
            ],
        }
    )
    path = captured.save(metrics_path(run_dir, drill.scenario, drill.iteration))
    assert MetricSeriesSet.load(path) == captured
    (run_dir / "results.json").write_text(
        RunResults(run_id="r1", started=start, drills=[drill]).model_dump_json(), encoding="utf-8"
    )
    render_run(run_dir)
    doc = parse((run_dir / page_name(drill)).read_text(encoding="utf-8"))
    charts = doc.find_all("svg", cls="line-chart")
    assert len(charts) == 3
    assert all(c.find_all("polyline") for c in charts)
    assert "threshold 5 %" in charts[0].text()


def test_capture_metrics_errors(prometheus: str) -> None:
    now = datetime.now(UTC)
    with pytest.raises(StackError, match="rejected"):
        capture_metrics(prometheus, now - timedelta(seconds=10), now, 1.0, queries={"bad": "sum(("})
    with pytest.raises(ConfigError):
        capture_metrics(prometheus, now, now - timedelta(seconds=10), 1.0)
    with pytest.raises(ConfigError):
        capture_metrics(prometheus, now, now, 0.0)
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StackError, match="cannot query Prometheus"):
        capture_metrics(dead, now - timedelta(seconds=10), now, 1.0)
