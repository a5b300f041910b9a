"""The metrics exposition: names, labels and pre-initialised series the alert rules rely on."""

from __future__ import annotations

import pytest
from demo_target.metrics import Metrics, route_label
from prometheus_client.parser import text_string_to_metric_families
from target_procs import Target

from harness.stack.wait import Predicate, wait_for


def series(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def has(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> bool:
    return (name, frozenset(labels.items())) in found


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/orders", "/orders"),
        ("/orders/abc", "/orders/{id}"),
        ("/orders/a/b", "other"),
        ("/orders/", "other"),
        ("/catalog", "/catalog"),
        ("/health/ready", "/health/ready"),
        ("/admin/rules/rollback", "/admin"),
        ("/metrics", "other"),
        ("/administrator", "other"),
    ],
)
def test_route_labels_are_bounded(path: str, label: str) -> None:
    assert route_label(path) == label


def test_every_counter_is_preinitialised() -> None:
    found = series(Metrics().exposition().decode())
    for status in ("200", "201", "400", "404", "413", "429", "500", "503"):
        assert has(found, "demo_http_requests_total", route="/orders", method="POST", status=status)
        assert has(found, "demo_http_requests_total", route="/orders/{id}", method="GET", status=status)
        assert has(found, "demo_http_requests_total", route="/catalog", method="GET", status=status)
    assert has(found, "demo_http_requests_total", route="/health/ready", method="GET", status="503")
    for result in ("hit", "miss", "error", "bypass"):
        assert has(found, "demo_cache_requests_total", result=result)
    for dep in ("redis", "postgres"):
        assert has(found, "demo_dependency_errors_total", dependency=dep)
        assert has(found, "demo_dependency_up", dependency=dep)
        assert has(found, "demo_circuit_breaker_open", breaker=dep)
    for flag in ("cache_bypass", "read_only", "throttle_noncritical"):
        assert has(found, "demo_feature_flag_enabled", flag=flag)
    for name in (
        "demo_rules_errors_total",
        "demo_rate_limited_total",
        "demo_orders_created_total",
        "demo_rules_version",
        "demo_process_restarts",
        "demo_memory_ballast_bytes",
    ):
        assert has(found, name), name
    assert has(found, "demo_http_request_duration_seconds_bucket", route="/orders", method="POST", le="0.005")
    assert has(found, "demo_http_request_duration_seconds_bucket", route="/orders", method="POST", le="5.0")


@pytest.mark.integration
def test_live_exposition(target: Target) -> None:
    with target.client() as client:
        client.get("/catalog")

        def both_up() -> bool:
            text = client.get("/metrics").text
            return all(
                f'demo_dependency_up{{dependency="{dep}"}} 1.0' in text for dep in ("redis", "postgres")
            )

        wait_for(Predicate(both_up, "dependency gauges are 1"), timeout=10, poll_interval=0.2)
        text = client.get("/metrics").text
    found = series(text)
    assert has(found, "demo_http_requests_total", route="/orders", method="POST", status="503")
    assert (
        found[
            (
                "demo_http_requests_total",
                frozenset({"route": "/catalog", "method": "GET", "status": "200"}.items()),
            )
        ]
        >= 1
    )
    assert found[("demo_dependency_up", frozenset({"dependency": "redis"}.items()))] == 1
    assert found[("demo_dependency_up", frozenset({"dependency": "postgres"}.items()))] == 1
    assert found[("demo_rules_version", frozenset())] >= 1
    assert has(found, "process_resident_memory_bytes")
    assert any(name == "python_info" for name, _ in found)
    assert any(name == "python_gc_collections_total" for name, _ in found)
