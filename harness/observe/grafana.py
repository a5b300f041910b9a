"""Grafana annotations: mark fault injected / detected / recovered on the dashboards.

Only the Docker stack runs Grafana. :func:`annotator_for` returns a
:class:`GrafanaAnnotator` when the stack has Grafana and a :class:`NullAnnotator`
(a no-op) otherwise, so the drill loop annotates unconditionally.

Annotations are a convenience for people watching the dashboards: a failed
post is logged and kept in ``errors``, never raised into a drill (unless
``strict=True``, which tests and ``drillctl`` checks use).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import StackError
from harness.stack.base import Service, Stack

log = logging.getLogger(__name__)

DRILL_TAG = "chaos-drill"
"""Every annotation carries this tag; the provisioned dashboards show annotations with it."""


class DrillEvent(StrEnum):
    FAULT_INJECTED = "fault-injected"
    DETECTED = "detected"
    RECOVERED = "recovered"


class GrafanaError(StackError):
    """Grafana refused or could not be reached (raised only by strict annotators)."""


@dataclass(frozen=True)
class Annotation:
    """What was (or would have been) posted to ``POST /api/annotations``."""

    text: str
    tags: tuple[str, ...]
    time: datetime
    time_end: datetime | None = None
    dashboard_uid: str | None = None

    def payload(self) -> dict[str, object]:
        body: dict[str, object] = {
            "time": _millis(self.time),
            "tags": list(self.tags),
            "text": self.text,
        }
        if self.time_end is not None:
            body["timeEnd"] = _millis(self.time_end)
        if self.dashboard_uid is not None:
            body["dashboardUID"] = self.dashboard_uid
        return body


class Annotator(ABC):
    """Posts drill events. Subclasses implement :meth:`annotate`."""

    clock: Clock = SYSTEM_CLOCK

    @abstractmethod
    def annotate(
        self,
        text: str,
        tags: Sequence[str] = (),
        at: datetime | None = None,
        until: datetime | None = None,
    ) -> int | None:
        """Post one annotation; return Grafana's id, or None when nothing was stored."""

    def drill_event(
        self,
        event: DrillEvent,
        scenario: str,
        detail: str = "",
        at: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> int | None:
        """Annotate a drill milestone, tagged ``chaos-drill``, the event and ``scenario:<name>``."""
        text = f"{scenario}: {event.value.replace('-', ' ')}" + (f" ({detail})" if detail else "")
        return self.annotate(text, [event.value, f"scenario:{scenario}", *tags], at=at)

    def fault_injected(self, scenario: str, detail: str = "", at: datetime | None = None) -> int | None:
        return self.drill_event(DrillEvent.FAULT_INJECTED, scenario, detail, at)

    def detected(self, scenario: str, detail: str = "", at: datetime | None = None) -> int | None:
        return self.drill_event(DrillEvent.DETECTED, scenario, detail, at)

    def recovered(self, scenario: str, detail: str = "", at: datetime | None = None) -> int | None:
        return self.drill_event(DrillEvent.RECOVERED, scenario, detail, at)


class NullAnnotator(Annotator):
    """No Grafana in this stack: records nothing, posts nothing."""

    def annotate(
        self,
        text: str,
        tags: Sequence[str] = (),
        at: datetime | None = None,
        until: datetime | None = None,
    ) -> int | None:
        return None


@dataclass
class GrafanaAnnotator(Annotator):
    """Posts to Grafana's HTTP API with basic auth (``auth``) or a service-account ``token``."""

    base_url: str
    auth: tuple[str, str] | None = None
    token: str | None = None
    timeout: float = 2.0
    strict: bool = False
    dashboard_uid: str | None = None
    clock: Clock = SYSTEM_CLOCK
    transport: httpx.BaseTransport | None = None
    posted: list[Annotation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.auth is not None and self.token is not None:
            raise ValueError("give either basic auth or a token, not both")

    def annotate(
        self,
        text: str,
        tags: Sequence[str] = (),
        at: datetime | None = None,
        until: datetime | None = None,
    ) -> int | None:
        all_tags = tuple(dict.fromkeys([DRILL_TAG, *tags]))
        annotation = Annotation(text, all_tags, at or self.clock.now(), until, self.dashboard_uid)
        try:
            annotation_id = self._post(annotation)
        except GrafanaError as exc:
            self.errors.append(str(exc))
            if self.strict:
                raise
            log.warning("grafana annotation not posted: %s", exc)
            return None
        self.posted.append(annotation)
        return annotation_id

    def _post(self, annotation: Annotation) -> int | None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        auth: httpx.Auth = httpx.BasicAuth(*self.auth) if self.auth is not None else _NO_AUTH
        url = f"{self.base_url.rstrip('/')}/api/annotations"
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(url, json=annotation.payload(), headers=headers, auth=auth)
        except httpx.HTTPError as exc:
            raise GrafanaError(f"POST {url} failed: {exc}") from exc
        if response.status_code != 200:
            raise GrafanaError(f"POST {url} answered {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise GrafanaError(f"POST {url} answered non-JSON: {response.text[:200]}") from exc
        annotation_id = body.get("id") if isinstance(body, dict) else None
        return annotation_id if isinstance(annotation_id, int) else None


@runtime_checkable
class HasGrafanaAuth(Protocol):
    """A stack that runs Grafana and knows its admin login (DockerStack)."""

    grafana_auth: tuple[str, str]


def annotator_for(stack: Stack, clock: Clock = SYSTEM_CLOCK, strict: bool = False) -> Annotator:
    """A Grafana annotator when ``stack`` runs Grafana, else a no-op annotator."""
    if not stack.has(Service.GRAFANA):
        return NullAnnotator()
    auth = stack.grafana_auth if isinstance(stack, HasGrafanaAuth) else None
    return GrafanaAnnotator(stack.endpoint(Service.GRAFANA).url, auth=auth, clock=clock, strict=strict)


class _NoAuth(httpx.Auth):
    """httpx's explicit 'no authentication' (None is not accepted by its type hints)."""


_NO_AUTH = _NoAuth()


def _millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("annotation times must be timezone-aware")
    return int(moment.timestamp() * 1000)
