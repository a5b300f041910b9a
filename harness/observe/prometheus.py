"""Prometheus HTTP API client: instant/range queries, alerts, rules, readiness, reload.

Errors (transport, HTTP status, ``"status": "error"`` answers, unexpected
shapes) are raised as :class:`harness.errors.StackError`; the ``wait_*``
helpers raise :class:`harness.errors.WaitTimeout`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import StackError
from harness.observe.api import JsonApiClient
from harness.stack.wait import TRANSIENT_ERRORS, Predicate, wait_for


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"


class Sample(BaseModel):
    """One instant-vector element (or a scalar, with no labels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, str]
    value: float
    timestamp: float


class Series(BaseModel):
    """One range-vector series: ``points`` are ``(unix_seconds, value)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, str]
    points: list[tuple[float, float]]


class PromAlert(BaseModel):
    """An active (pending or firing) alert from ``/api/v1/alerts``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    state: AlertState
    active_at: datetime = Field(alias="activeAt")
    value: float = math.nan

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class RuleInfo(BaseModel):
    """One rule from ``/api/v1/rules``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    group: str
    file: str
    name: str
    type: str
    query: str
    health: str = "unknown"
    last_error: str = Field(default="", alias="lastError")
    state: str | None = None
    """For alerting rules: inactive, pending or firing."""


class PrometheusClient(JsonApiClient):
    service = "prometheus"

    # -- queries -----------------------------------------------------------
    def _api(self, path: str, params: dict[str, str] | None = None) -> Any:
        document = self._json("GET", path, params=params)
        if not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else document
            raise StackError(f"prometheus {path} failed: {error}")
        return document.get("data")

    def query(self, promql: str, at: datetime | None = None) -> list[Sample]:
        """Instant query. A scalar result comes back as one label-less sample."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data = self._api("/api/v1/query", params)
        try:
            kind, result = data["resultType"], data["result"]
            if kind == "vector":
                return [Sample(labels=r["metric"], timestamp=r["value"][0], value=float(r["value"][1]))
                        for r in result]
            if kind == "scalar":
                return [Sample(labels={}, timestamp=result[0], value=float(result[1]))]
        except (KeyError, TypeError, IndexError, ValueError, ValidationError) as exc:
            raise StackError(f"prometheus answered an unexpected query result for {promql!r}") from exc
        raise StackError(f"query {promql!r} returned a {kind}, not a vector or scalar")

    def query_scalar(self, promql: str) -> float | None:
        """The single value of ``promql``; None when it has no result (or NaN, e.g. 0/0)."""
        samples = self.query(promql)
        if not samples:
            return None
        if len(samples) > 1:
            raise StackError(f"query {promql!r} returned {len(samples)} series, expected one")
        value = samples[0].value
        return None if math.isnan(value) else value

    def query_range(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        params = {"query": promql, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
                  "step": f"{step_s:g}"}
        data = self._api("/api/v1/query_range", params)
        try:
            return [Series(labels=r["metric"], points=[(float(t), float(v)) for t, v in r["values"]])
                    for r in data["result"]]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise StackError(f"prometheus answered an unexpected range result for {promql!r}") from exc

    # -- alerts and rules ----------------------------------------------------
    def alerts(self) -> list[PromAlert]:
        data = self._api("/api/v1/alerts")
        try:
            return [PromAlert.model_validate(alert) for alert in data["alerts"]]
        except (KeyError, TypeError, ValidationError) as exc:
            raise StackError("prometheus answered an unexpected /api/v1/alerts document") from exc

    def firing(self, name: str | None = None) -> list[PromAlert]:
        return [a for a in self.alerts() if a.state == AlertState.FIRING and name in (None, a.name)]

    def rules(self) -> list[RuleInfo]:
        data = self._api("/api/v1/rules")
        try:
            return [RuleInfo.model_validate({**rule, "group": group["name"], "file": group["file"]})
                    for group in data["groups"] for rule in group["rules"]]
        except (KeyError, TypeError, ValidationError) as exc:
            raise StackError("prometheus answered an unexpected /api/v1/rules document") from exc

    def wait_for_alert(
        self, name: str, timeout: float, state: AlertState = AlertState.FIRING, poll_interval: float = 0.2
    ) -> PromAlert:
        """Poll ``/api/v1/alerts`` until ``name`` is in ``state``. Raises WaitTimeout."""
        found: list[PromAlert] = []

        def check() -> bool:
            found[:] = [a for a in self.alerts() if a.name == name and a.state == state][:1]
            return bool(found)

        wait_for(Predicate(check, f"alert {name} {state.value} in prometheus"), timeout=timeout,
                 poll_interval=poll_interval, clock=self.clock, transient=(StackError, *TRANSIENT_ERRORS))
        return found[0]

    # -- lifecycle -----------------------------------------------------------
    def healthy(self) -> bool:
        """True when ``/-/ready`` answers 200. Never raises."""
        return self._ready("/-/ready")

    def reload(self) -> None:
        """POST ``/-/reload`` (needs ``--web.enable-lifecycle``)."""
        self._request("POST", "/-/reload")

    def server_time(self) -> datetime:
        samples = self.query("time()")
        return datetime.fromtimestamp(samples[0].value, UTC)
