"""The Grafana annotations client against a tiny local HTTP server that records requests."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.clock import FakeClock
from harness.observe.grafana import (
    DRILL_TAG,
    DrillEvent,
    GrafanaAnnotator,
    GrafanaError,
    NullAnnotator,
    annotator_for,
)
from harness.stack.base import Endpoint, FakeStack, Service


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.next_id = 1


@pytest.fixture
def grafana() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            auth = self.headers.get("Authorization")
            recorder.requests.append({"path": self.path, "auth": auth, "body": body})
            if recorder.status == 200:
                payload = {"message": "Annotation added", "id": recorder.next_id}
                recorder.next_id += 1
            else:
                payload = {"message": "nope"}
            data = json.dumps(payload).encode()
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_basic_auth_post_with_tags_and_time(grafana: tuple[str, Recorder]) -> None:
    url, recorder = grafana
    annotator = GrafanaAnnotator(url, auth=("admin", "s3cret"), strict=True)
    assert annotator.fault_injected("redis-outage", "pause redis", at=AT) == 1
    request = recorder.requests[0]
    assert request["path"] == "/api/annotations"
    assert request["auth"] == "Basic " + base64.b64encode(b"admin:s3cret").decode()
    body = request["body"]
    assert body["time"] == int(AT.timestamp() * 1000)
    assert body["tags"] == [DRILL_TAG, "fault-injected", "scenario:redis-outage"]
    assert body["text"] == "redis-outage: fault injected (pause redis)"
    assert "timeEnd" not in body


def test_token_auth_and_all_three_events(grafana: tuple[str, Recorder]) -> None:
    url, recorder = grafana
    clock = FakeClock(start=AT)
    annotator = GrafanaAnnotator(url + "/", token="glsa_token", clock=clock, dashboard_uid="drill-drills")
    ids = [annotator.fault_injected("s"), annotator.detected("s", "DemoRedisDown"), annotator.recovered("s")]
    assert ids == [1, 2, 3]
    assert {r["auth"] for r in recorder.requests} == {"Bearer glsa_token"}
    assert [r["body"]["tags"][1] for r in recorder.requests] == [e.value for e in DrillEvent]
    assert all(r["body"]["dashboardUID"] == "drill-drills" for r in recorder.requests)
    assert recorder.requests[0]["body"]["time"] == int(AT.timestamp() * 1000)
    assert len(annotator.posted) == 3


def test_region_annotation_has_time_end(grafana: tuple[str, Recorder]) -> None:
    url, recorder = grafana
    end = AT.replace(minute=5)
    GrafanaAnnotator(url, strict=True).annotate("drill", ["x", DRILL_TAG], at=AT, until=end)
    body = recorder.requests[0]["body"]
    assert body["timeEnd"] == int(end.timestamp() * 1000)
    assert body["tags"] == [DRILL_TAG, "x"]


def test_failures_are_logged_not_raised_unless_strict(grafana: tuple[str, Recorder]) -> None:
    url, recorder = grafana
    recorder.status = 401
    lenient = GrafanaAnnotator(url, auth=("admin", "wrong"))
    assert lenient.detected("s", at=AT) is None
    assert lenient.errors and "401" in lenient.errors[0] and lenient.posted == []
    with pytest.raises(GrafanaError, match="401"):
        GrafanaAnnotator(url, auth=("admin", "wrong"), strict=True).detected("s", at=AT)


def test_unreachable_grafana_is_translated(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GrafanaError) as info:
        GrafanaAnnotator(f"http://127.0.0.1:{port}", strict=True, timeout=1.0).recovered("s", at=AT)
    assert info.value.__cause__ is not None


def test_auth_and_token_are_exclusive_and_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="either"):
        GrafanaAnnotator("http://127.0.0.1:1", auth=("a", "b"), token="t")
    with pytest.raises(ValueError, match="timezone-aware"):
        GrafanaAnnotator("http://127.0.0.1:1", strict=True).annotate("x", at=datetime(2026, 1, 1))


def test_annotator_for_stacks_with_and_without_grafana(grafana: tuple[str, Recorder]) -> None:
    url, recorder = grafana
    port = int(url.rsplit(":", 1)[1])
    no_grafana = FakeStack(endpoints={Service.TARGET: Endpoint("127.0.0.1", 1)})
    null = annotator_for(no_grafana)
    assert isinstance(null, NullAnnotator)
    assert null.fault_injected("s", at=AT) is None
    assert recorder.requests == []

    class GrafanaStack(FakeStack):
        grafana_auth = ("admin", "pw")

    with_grafana = GrafanaStack(endpoints={Service.GRAFANA: Endpoint("127.0.0.1", port)})
    annotator = annotator_for(with_grafana, strict=True)
    assert isinstance(annotator, GrafanaAnnotator)
    assert annotator.recovered("s", at=AT) == 1
    assert recorder.requests[0]["auth"] == "Basic " + base64.b64encode(b"admin:pw").decode()
