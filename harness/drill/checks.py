"""Steady-state checks and recovery criteria, evaluated against the real Prometheus and target."""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

from harness.drill.context import DrillContext
from harness.errors import HarnessError
from harness.scenarios.models import HttpCheck, PromqlCheck, RecoveryCriterion, SteadyStateCheck

# Conveniences for the demo target; an external target writes its own PromQL criteria.
USER_ROUTES = r"/orders|/orders/\\{id\\}|/catalog"


def _ratio(metric: str, selector: str, window: str) -> str:
    return (
        f'sum(rate({metric}{{{selector},status=~"5.."}}[{window}]))'
        f" / (sum(rate({metric}{{{selector}}}[{window}])) > 0)"
    )


def error_ratio_query(job: str, window_s: float) -> str:
    """5xx ratio of the user routes as users see it at the ingress, else at the target itself."""
    w = f"{max(round(window_s), 2)}s"
    ingress = _ratio(
        "ingress_http_requests_total", f'job="ingress",upstream="target",route=~"{USER_ROUTES}"', w
    )
    target = _ratio("demo_http_requests_total", f'job="{job}",route=~"{USER_ROUTES}"', w)
    return f"({ingress}) or ({target})"


def p95_query(job: str, window_s: float) -> str:
    w = f"{max(round(window_s), 2)}s"
    ingress = (
        "histogram_quantile(0.95, sum by (le) (rate(ingress_http_request_duration_seconds_bucket"
        f'{{job="ingress",upstream="target",route=~"{USER_ROUTES}"}}[{w}])))'
    )
    target = (
        "histogram_quantile(0.95, sum by (le) (rate(demo_http_request_duration_seconds_bucket"
        f'{{job="{job}",route=~"{USER_ROUTES}"}}[{w}])))'
    )
    return f"({ingress}) or ({target})"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    description: str
    value: float | None = None


def _scalar(ctx: DrillContext, promql: str) -> float | None:
    try:
        value = ctx.prometheus.query_scalar(promql)
    except HarnessError:
        return None
    if value is None or math.isnan(value):
        return None
    return value


def target_up(ctx: DrillContext) -> bool:
    job = ctx.scenario.target.metrics_job
    return _scalar(ctx, f'up{{job="{job}"}}') == 1.0


def check_promql(ctx: DrillContext, check: PromqlCheck) -> CheckResult:
    value = _scalar(ctx, check.query)
    ok = value is not None and check.op.holds(value, check.value)
    return CheckResult(ok, f"{check.query} {check.op.value} {check.value:g}", value)


def check_http(ctx: DrillContext, check: HttpCheck) -> CheckResult:
    url = check.url or f"{ctx.target_url}{check.path or '/'}"
    try:
        status = ctx.http.get(url, timeout=check.timeout_s).status_code
    except httpx.HTTPError:
        return CheckResult(False, f"GET {url} (no answer)")
    return CheckResult(status in check.expect_status, f"GET {url} -> {status}", float(status))


def check_steady(ctx: DrillContext, check: SteadyStateCheck) -> CheckResult:
    if check.promql is not None:
        return check_promql(ctx, check.promql)
    assert check.http is not None
    return check_http(ctx, check.http)


def check_criterion(ctx: DrillContext, criterion: RecoveryCriterion) -> CheckResult:
    job = ctx.scenario.target.metrics_job
    if criterion.error_ratio is not None:
        c = criterion.error_ratio
        if not target_up(ctx):
            return CheckResult(False, f"error ratio <= {c.max:g} (target not scraped)")
        value = _scalar(ctx, error_ratio_query(job, c.window_seconds))
        value = 0.0 if value is None else value  # no user traffic in the window: no errors
        return CheckResult(value <= c.max, f"error ratio <= {c.max:g}", value)
    if criterion.p95_latency is not None:
        p = criterion.p95_latency
        value = _scalar(ctx, p95_query(job, p.window_seconds))
        ok = value is not None and value <= p.max_seconds
        return CheckResult(ok, f"p95 latency <= {p.max_seconds:g}s", value)
    if criterion.ready is not None:
        path = ctx.scenario.target.ready_path
        return check_http(ctx, HttpCheck(path=path, expect_status=[200]))
    assert criterion.promql is not None
    return check_promql(ctx, criterion.promql)


def all_hold(results: list[CheckResult]) -> bool:
    return all(r.ok for r in results)


def describe(results: list[CheckResult]) -> str:
    parts = []
    for r in results:
        value = "" if r.value is None else f" (={r.value:.4g})"
        parts.append(f"{'ok' if r.ok else 'NOT'}: {r.description}{value}")
    return "; ".join(parts)
