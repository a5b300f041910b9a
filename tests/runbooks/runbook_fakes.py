"""Fakes for runbook step logic: an in-memory target admin API behind httpx.MockTransport,
and a Prometheus scalar source."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

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
