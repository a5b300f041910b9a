"""Grafana provisioning and dashboards: valid JSON, one datasource uid, queries that name real metrics.

The live check starts the real local stack (LocalStack: the real target against
real Postgres and Redis, scraped by the real Prometheus), scrapes the target's
/metrics and runs every dashboard query through Prometheus's query API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.paths import fixtures_dir, repo_root
from harness.stack.base import Service
from harness.stack.wait import Predicate, wait_for

GRAFANA = fixtures_dir() / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROMETHEUS_BUILTINS = {"ALERTS", "ALERTS_FOR_STATE", "up"}
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "bool", "offset", "histogram_quantile", "clamp_min",
    "clamp_max", "topk", "bottomk", "abs", "delta", "deriv", "changes", "resets", "time", "vector", "scalar",
    "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "last_over_time", "absent", "le",
    "inf", "nan", "e",
}


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in DASHBOARDS]


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (strings, matchers, ranges and grouping labels removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])\d+(\.\d+)?(e-?\d+)?(ms|s|m|h|d|w|y)?\b", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if word.lower() in PROMQL_WORDS or following.startswith("("):
            continue
        names.add(word)
    return names


def label_names(expr: str) -> set[str]:
    labels: set[str] = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels.update(x.strip() for x in group.split(",") if x.strip())
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return labels


def architecture_metrics() -> set[str]:
    text = (repo_root() / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("Metrics (every counter", 1)[1].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `(demo_[a-z_]+)` \|", section, re.MULTILINE))


def exported_base(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_metric_name_extraction() -> None:
    expr = ('histogram_quantile(0.95, sum by (route, le) (rate(demo_x_bucket{status=~"5..", a="b"}[1m]))) '
            '/ clamp_min(sum(rate(demo_y_total[5m] offset 1m)), 1e-9) and on(route) up{job="x"}')
    assert metric_names(expr) == {"demo_x_bucket", "demo_y_total", "up"}
    assert label_names(expr) == {"route", "le", "status", "a", "job"}


def test_dashboards_are_valid_json_with_unique_uids() -> None:
    assert {p.name for p in DASHBOARDS} == {"demo-target.json", "drills.json"}
    uids = [d["uid"] for d in dashboards()]
    assert len(set(uids)) == len(uids)
    for dashboard in dashboards():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(set(ids)) == len(ids), dashboard["uid"]
        assert queries(dashboard), dashboard["uid"]


def test_datasource_uid_is_the_provisioned_one() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://127.0.0.1:9090"
    for dashboard in dashboards():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]


def test_dashboard_provider_points_at_the_mounted_directory() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "drills.yml").read_text())
    (entry,) = provider["providers"]
    compose = yaml.safe_load((repo_root() / "docker-compose.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./fixtures/grafana/dashboards"] == entry["options"]["path"]
    assert mounts["./fixtures/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_drills_dashboard_shows_drill_annotations() -> None:
    from harness.observe.grafana import DRILL_TAG

    drills = next(d for d in dashboards() if d["uid"] == "drill-drills")
    tags = [a.get("target", {}).get("tags") for a in drills["annotations"]["list"]]
    assert [DRILL_TAG] in tags
    assert any("ALERTS" in q and 'alertstate="firing"' in q for q in queries(drills))


def test_queries_name_only_metrics_of_the_contract() -> None:
    contract = architecture_metrics()
    assert len(contract) == 13
    used: set[str] = set()
    for dashboard in dashboards():
        for expr in queries(dashboard):
            for name in metric_names(expr):
                known = name in PROMETHEUS_BUILTINS or exported_base(name) in contract
                assert known, (dashboard["uid"], name)
                used.add(exported_base(name))
    assert contract <= used, f"metrics no dashboard shows: {sorted(contract - used)}"


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from harness.stack.local import LocalSettings, LocalStack

    stack = LocalStack(LocalSettings(run_dir=Path(tmp_path_factory.mktemp("dash-stack")), with_proxy=False))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.mark.integration
def test_every_queried_metric_is_exported_by_the_live_target(live_stack: Any) -> None:
    target = live_stack.direct_endpoint(Service.TARGET).url
    httpx.get(f"{target}/catalog", timeout=5)  # some traffic, so the histogram has samples too
    scrape = httpx.get(f"{target}/metrics", timeout=5).text
    samples: dict[str, set[str]] = {}
    for line in scrape.splitlines():
        match = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?\s", line)
        if match and not line.startswith("#"):
            labels = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', match.group(3) or ""))
            samples.setdefault(match.group(1), set()).update(labels)
    for dashboard in dashboards():
        for expr in queries(dashboard):
            names = metric_names(expr) - PROMETHEUS_BUILTINS
            for name in names:
                assert name in samples, f"{dashboard['uid']}: {name} is not in the target's /metrics"
            if names:
                known = set().union(*(samples[n] for n in names))
                assert label_names(expr) <= known, (expr, sorted(known))


@pytest.mark.integration
def test_every_query_runs_on_the_live_prometheus(live_stack: Any) -> None:
    prometheus = live_stack.endpoint(Service.PROMETHEUS).url

    def target_scraped() -> bool:
        params = {"query": "demo_rules_version"}
        body = httpx.get(f"{prometheus}/api/v1/query", params=params, timeout=2).json()
        return bool(body["data"]["result"])

    wait_for(Predicate(target_scraped, "prometheus has scraped the target"), timeout=30, poll_interval=0.5)
    for dashboard in dashboards():
        for expr in queries(dashboard):
            response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
            assert response.status_code == 200, (expr, response.text)
            assert response.json()["status"] == "success", expr
