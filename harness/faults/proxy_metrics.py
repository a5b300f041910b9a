"""Ingress metrics of the fault proxy's HTTP routes, as an ingress controller would export them.

Faults injected at the ingress (HTTP errors, latency) never reach the target, so its own metrics
cannot see them; users do. Prometheus scrapes these from the proxy's admin API (``GET /metrics``)
as job ``ingress``, and the alert rules look at both.

    ingress_http_requests_total{upstream, route, method, status}
    ingress_http_request_duration_seconds{upstream, route, method}   (histogram)

``route`` is the request path with id-like segments (UUIDs, numbers) replaced by ``{id}``.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ID_SEGMENT = re.compile(
    r"^(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
_MAX_ROUTES = 200  # bound the label cardinality whatever the clients send


def route_of(target: str) -> str:
    path = target.split("?", 1)[0].split("#", 1)[0] or "/"
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return "/".join(parts)[:100] or "/"


class IngressMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "ingress_http_requests_total",
            "Requests answered at the ingress (fault proxy).",
            ["upstream", "route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "ingress_http_request_duration_seconds",
            "Time from request to response at the ingress.",
            ["upstream", "route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._routes: set[str] = set()

    def observe(self, upstream: str, target: str, method: str, status: int, seconds: float) -> None:
        route = route_of(target)
        if route not in self._routes:
            if len(self._routes) >= _MAX_ROUTES:
                route = "other"
            else:
                self._routes.add(route)
        self.requests.labels(upstream, route, method, str(status)).inc()
        self.duration.labels(upstream, route, method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


METRICS = IngressMetrics()
