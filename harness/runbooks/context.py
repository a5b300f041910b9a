"""The one object every step gets: where things are, how to talk to them, where to record.

:class:`RunbookContext` carries the stack (endpoints, credentials, process
control), an httpx client, the clock, the audit ledger, the redactor, the
incident store, the notify targets, the confirmation policy and an optional
event sink that receives every :class:`~harness.drill.results.StepRecord`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.drill.results import StepRecord
from harness.errors import RunbookError, StackError
from harness.runbooks.audit import AuditLedger
from harness.runbooks.incidents import IncidentStore
from harness.runbooks.secrets import Redactor
from harness.stack.base import Service, Stack

_SERVICE_URL = re.compile(r"^([a-z_]+):(/.*)$")


class ScalarSource(Protocol):
    """What wait_for needs from Prometheus (``harness.observe.prometheus.PrometheusClient``)."""

    def query_scalar(self, promql: str) -> float | None: ...


@dataclass(frozen=True)
class NotifyTarget:
    """A webhook a notify step can post to (e.g. the harness receiver's ``/chat``)."""

    url: str
    bearer_token: str | None = None


ConfirmFn = Callable[[str], bool]
EventSink = Callable[[StepRecord], None]


@dataclass
class RunbookContext:
    stack: Stack | None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0, trust_env=False))
    clock: Clock = SYSTEM_CLOCK
    ledger: AuditLedger = field(default_factory=AuditLedger)
    redactor: Redactor = field(default_factory=Redactor)
    incidents: IncidentStore | None = None
    notify_targets: dict[str, NotifyTarget] = field(default_factory=dict)
    strict_confirm: bool = False
    confirmer: ConfirmFn | None = None
    event_sink: EventSink | None = None
    dry_run: bool = False
    prometheus: ScalarSource | None = None
    env: Mapping[str, str] | None = None
    output_limit: int = 1000

    def __post_init__(self) -> None:
        if self.incidents is None:
            self.incidents = IncidentStore(clock=self.clock, redactor=self.redactor)
        if self.stack is not None:
            creds = self.stack.credentials
            for value in (creds.admin_token, creds.receiver_token, creds.postgres_password):
                if len(value) >= 4:
                    self.redactor.add(value)
        for target in self.notify_targets.values():
            if target.bearer_token:
                self.redactor.add(target.bearer_token)

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env

    @property
    def incident_store(self) -> IncidentStore:
        assert self.incidents is not None  # set in __post_init__
        return self.incidents

    def require_stack(self) -> Stack:
        if self.stack is None:
            raise RunbookError("this step needs a stack, and the run has none")
        return self.stack

    def resolve_url(self, url: str) -> tuple[str, dict[str, str]]:
        """Turn ``<service>:/path`` into an absolute URL (plus the headers it needs).

        ``target:`` goes to the target directly (bypassing the fault proxy: remediation must
        not be broken by the fault it remediates) and carries the admin bearer token.
        """
        match = _SERVICE_URL.match(url)
        if match is None or match.group(1) not in {s.value for s in Service}:
            return url, {}
        service, path = Service(match.group(1)), match.group(2)
        stack = self.require_stack()
        try:
            if service is Service.TARGET:
                base = stack.direct_endpoint(service).url
                return base + path, {"Authorization": f"Bearer {stack.credentials.admin_token}"}
            return stack.endpoint(service).url + path, {}
        except StackError as exc:
            raise RunbookError(f"cannot resolve {url!r}: {exc}") from exc

    def prometheus_source(self) -> ScalarSource:
        if self.prometheus is not None:
            return self.prometheus
        from harness.observe.prometheus import PrometheusClient

        try:
            base = self.require_stack().endpoint(Service.PROMETHEUS).url
        except StackError as exc:
            raise RunbookError(f"no Prometheus to query: {exc}") from exc
        self.prometheus = PrometheusClient(base, clock=self.clock)
        return self.prometheus

    def excerpt(self, text: str) -> str:
        """Redact first, then truncate (truncating first could leave half a secret)."""
        clean = self.redactor.redact(text)
        if len(clean) <= self.output_limit:
            return clean
        return clean[: self.output_limit] + f"… [{len(clean) - self.output_limit} more characters]"
