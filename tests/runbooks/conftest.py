"""Fakes for runbook step logic: an in-memory target admin API behind httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.clock import FakeClock
from harness.runbooks.audit import AuditLedger
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.incidents import IncidentStore
from harness.runbooks.secrets import Redactor
from harness.stack.base import Credentials, Endpoint, FakeStack, Service

ADMIN_TOKEN = "admin-secret-token-1234"


@dataclass
class FakeTarget:
    """Just enough of the demo target's admin API (and a chat webhook) for step logic."""

    flags: dict[str, bool] = field(
        default_factory=lambda: {"cache_bypass": False, "read_only": False, "throttle_noncritical": False}
    )
    breakers: dict[str, str] = field(default_factory=lambda: {"redis": "closed", "postgres": "closed"})
    rules_version: int = 2
    requests: list[httpx.Request] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    fail_paths: dict[str, int] = field(default_factory=dict)  # path -> how many times to answer 500
    ready_status: int = 200

    def state(self) -> dict[str, Any]:
        return {
            "flags": dict(self.flags),
            "breakers": dict(self.breakers),
            "rules_version": self.rules_version,
            "restarts": 0,
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "chat.local":
            self.chat.append({"auth": request.headers.get("authorization"), **json.loads(request.content)})
            return httpx.Response(200, json={"ok": True})
        if self.fail_paths.get(path, 0) > 0:
            self.fail_paths[path] -= 1
            return httpx.Response(500, text="injected failure")
        if path == "/health/ready":
            return httpx.Response(self.ready_status, json={})
        if path == "/echo":
            return httpx.Response(200, text=f"you sent {request.headers.get('x-api-key')}")
        if path.startswith("/admin") and request.headers.get("authorization") != f"Bearer {ADMIN_TOKEN}":
            return httpx.Response(401)
        parts = path.strip("/").split("/")
        if path == "/admin/state":
            return httpx.Response(200, json=self.state())
        if parts[:2] == ["admin", "flags"] and request.method == "PUT":
            if parts[2] not in self.flags:
                return httpx.Response(404)
            self.flags[parts[2]] = bool(json.loads(request.content)["enabled"])
            return httpx.Response(200, json=self.state())
        if parts[:2] == ["admin", "breakers"] and request.method == "POST":
            self.breakers[parts[2]] = "open" if parts[3] == "open" else "closed"
            return httpx.Response(200, json=self.state())
        if path == "/admin/rules/rollback":
            self.rules_version -= 1
            return httpx.Response(200, json={"version": self.rules_version})
        return httpx.Response(404)


@dataclass
class FakeProm:
    """A scalar source for wait_for step logic (the real Prometheus is used in integration tests)."""

    values: list[float | None]
    queries: list[str] = field(default_factory=list)

    def query_scalar(self, promql: str) -> float | None:
        self.queries.append(promql)
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def fake_stack() -> FakeStack:
    stack = FakeStack(
        endpoints={
            Service.TARGET: Endpoint("target.local", 8080),
            Service.PROMETHEUS: Endpoint("prometheus.local", 9090),
            Service.FAULT_PROXY: Endpoint("proxy.local", 7000),
            Service.REDIS: Endpoint("redis.local", 6379),
        },
        credentials=Credentials(admin_token=ADMIN_TOKEN, receiver_token="receiver-token-5678"),
    )
    stack.up()
    return stack


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(
    tmp_path: Path, target: FakeTarget, fake_stack: FakeStack, clock: FakeClock
) -> Iterator[RunbookContext]:
    redactor = Redactor()
    with httpx.Client(transport=httpx.MockTransport(target.handler)) as http:
        yield RunbookContext(
            stack=fake_stack,
            http=http,
            clock=clock,
            ledger=AuditLedger(tmp_path / "audit.jsonl", clock),
            redactor=redactor,
            incidents=IncidentStore(tmp_path / "incidents", clock, redactor),
            notify_targets={"oncall": NotifyTarget("http://chat.local/chat", "chat-token-9999")},
            prometheus=FakeProm([1.0]),
            env={"PATH": "/usr/bin:/bin"},
        )
