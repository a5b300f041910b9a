"""Capture the demo target's metric series from Prometheus while it is still up.

The drill loop calls :func:`capture_metrics` after a drill (before the stack goes
down) and saves the result next to results.json with :meth:`MetricSeriesSet.save`
at :func:`metrics_path`; the report draws its charts from that file later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from urllib3.util.retry import Retry

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ConfigError, StackError

# The user-facing routes of the demo target (health, admin and /metrics are left out).
USER_ROUTES = r"/orders|/orders/\\{id\\}|/catalog"


class MetricKey(StrEnum):
    ERROR_RATIO = "error_ratio"
    P95_LATENCY_MS = "p95_latency_ms"
    REQUESTS_PER_SECOND = "requests_per_second"


TITLES: dict[str, tuple[str, str]] = {
    MetricKey.ERROR_RATIO: ("Error ratio (5xx)", "ratio"),
    MetricKey.P95_LATENCY_MS: ("p95 latency", "ms"),
    MetricKey.REQUESTS_PER_SECOND: ("Requests per second", "req/s"),
}


def default_queries(rate_window: str = "10s", routes: str = USER_ROUTES) -> dict[str, str]:
    """PromQL for each :class:`MetricKey` over the user-facing routes: at the ingress (the fault proxy,
    what users see, including faults injected before the target) or else at the demo target itself."""
    queries: dict[str, list[str]] = {key: [] for key in MetricKey}
    for metric, sel in (
        ("ingress_http_request", f'job="ingress",upstream="target",route=~"{routes}"'),
        ("demo_http_request", f'route=~"{routes}"'),
    ):
        total = f"sum(rate({metric}s_total{{{sel}}}[{rate_window}]))"
        errors = f'sum(rate({metric}s_total{{{sel},status=~"5.."}}[{rate_window}]))'
        buckets = f"sum by (le) (rate({metric}_duration_seconds_bucket{{{sel}}}[{rate_window}]))"
        queries[MetricKey.ERROR_RATIO].append(f"(({errors} or vector(0)) / ({total} > 0))")
        queries[MetricKey.P95_LATENCY_MS].append(f"(histogram_quantile(0.95, {buckets}) * 1000)")
        queries[MetricKey.REQUESTS_PER_SECOND].append(f"({total} > 0)")
    return {key: " or ".join(parts) for key, parts in queries.items()}


class MetricSeries(BaseModel):
    """One series of a range query: ``points`` are ``(unix seconds, value)``; NaN/Inf samples dropped."""

    model_config = ConfigDict(extra="forbid")

    key: str
    title: str
    unit: str
    query: str
    labels: dict[str, str] = Field(default_factory=dict)
    points: list[tuple[float, float]] = Field(default_factory=list)


class MetricSeriesSet(BaseModel):
    """``<scenario>-<iteration>.metrics.json``."""

    model_config = ConfigDict(extra="forbid")

    prometheus_url: str
    start: datetime
    end: datetime
    step_s: float
    rate_window: str
    captured_at: datetime
    series: list[MetricSeries] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(default_factory=dict)

    def for_key(self, key: str) -> list[MetricSeries]:
        return [s for s in self.series if s.key == key]

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> MetricSeriesSet:
        try:
            return cls.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            problems = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ConfigError(f"{path}: not a metrics file", problems) from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read metrics file: {exc}") from exc


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(scenario: str, iteration: int) -> str:
    """``<scenario>-<iteration>`` with anything but ``[A-Za-z0-9._-]`` replaced, safe as a file name."""
    name = _UNSAFE.sub("_", scenario).strip(".") or "drill"
    return f"{name}-{iteration}"


def metrics_path(run_dir: Path, scenario: str, iteration: int) -> Path:
    return run_dir / f"{file_stem(scenario, iteration)}.metrics.json"


def capture_metrics(
    prometheus_url: str,
    start: datetime,
    end: datetime,
    step_s: float,
    *,
    rate_window: str = "10s",
    thresholds: Mapping[str, float] | None = None,
    queries: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    clock: Clock = SYSTEM_CLOCK,
) -> MetricSeriesSet:
    """Run one ``query_range`` per metric over ``[start, end]`` and return the series.

    ``thresholds`` (keyed like the queries, e.g. ``{"error_ratio": 0.01, "p95_latency_ms": 500}``)
    are stored with the series and drawn on the charts. Raises :class:`StackError` when
    Prometheus cannot be queried.
    """
    if step_s <= 0 or not math.isfinite(step_s):
        raise ConfigError(f"step_s must be a positive number of seconds, not {step_s!r}")
    start, end = _utc(start), _utc(end)
    if end < start:
        raise ConfigError(f"end {end.isoformat()} is before start {start.isoformat()}")
    chosen = dict(queries) if queries is not None else default_queries(rate_window)
    session = requests.Session()
    session.trust_env = False  # never route loopback queries through an environment proxy
    retry = Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504))
    client = PrometheusConnect(url=prometheus_url.rstrip("/"), retry=retry, session=session)
    series: list[MetricSeries] = []
    try:
        for key, promql in chosen.items():
            title, unit = TITLES.get(key, (key, ""))
            try:
                result: list[dict[str, Any]] = client.custom_query_range(
                    promql, start_time=start, end_time=end, step=f"{step_s:g}", timeout=math.ceil(timeout)
                )
            except PrometheusApiClientException as exc:
                raise StackError(f"Prometheus rejected the {key} query {promql!r}: {exc}") from exc
            except requests.RequestException as exc:
                raise StackError(f"cannot query Prometheus at {prometheus_url}: {exc}") from exc
            series.extend(_to_series(key, title, unit, promql, result))
    finally:
        client.close()
    return MetricSeriesSet(
        prometheus_url=prometheus_url,
        start=start,
        end=end,
        step_s=step_s,
        rate_window=rate_window,
        captured_at=clock.now(),
        series=series,
        thresholds=dict(thresholds or {}),
    )


def _to_series(
    key: str, title: str, unit: str, promql: str, result: list[dict[str, Any]]
) -> list[MetricSeries]:
    out: list[MetricSeries] = []
    for item in result:
        points: list[tuple[float, float]] = []
        for stamp, raw in item.get("values", []):
            value = float(raw)
            if math.isfinite(value):
                points.append((float(stamp), value))
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        out.append(MetricSeries(key=key, title=title, unit=unit, query=promql, labels=labels, points=points))
    return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
