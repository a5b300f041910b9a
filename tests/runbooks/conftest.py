"""Fakes for runbook step logic: an in-memory target admin API behind httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runbook_fakes import ADMIN_TOKEN, FakeProm, FakeTarget

from harness.clock import FakeClock
from harness.runbooks.audit import AuditLedger
from harness.runbooks.context import NotifyTarget, RunbookContext
from harness.runbooks.incidents import IncidentStore
from harness.runbooks.secrets import Redactor
from harness.stack.base import Credentials, Endpoint, FakeStack, Service


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
