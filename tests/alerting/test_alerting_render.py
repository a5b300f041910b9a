"""Rendering prometheus.yml / alertmanager.yml, and promtool/amtool accepting the output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from harness.errors import ConfigError
from harness.stack.config_render import (
    RULES_DIR,
    AlertmanagerConfig,
    PrometheusConfig,
    format_duration,
    render_alertmanager_config,
    render_prometheus_config,
)

PROM_TESTS_DIR = RULES_DIR.parent / "tests"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")


def _prom_cfg(**overrides: object) -> PrometheusConfig:
    values: dict[str, object] = {
        "scrape_interval_s": 1.0,
        "evaluation_interval_s": 1.0,
        "target_address": "127.0.0.1:18080",
        "alertmanager_address": "127.0.0.1:19093",
        "rule_files": [str(RULES_DIR / "*.yml")],
        "external_labels": {"drill_run": "run-1"},
    }
    values.update(overrides)
    return PrometheusConfig.model_validate(values)


def _am_cfg(tmp_path: Path, **overrides: object) -> AlertmanagerConfig:
    token = tmp_path / "receiver-token"
    token.write_text("s3cret\n")
    values: dict[str, object] = {
        "receiver_url": "http://127.0.0.1:18081",
        "credentials_file": str(token),
        "group_wait_s": 0.5,
        "group_interval_s": 1.0,
        "repeat_interval_s": 3600.0,
        "resolve_timeout_s": 300.0,
    }
    values.update(overrides)
    return AlertmanagerConfig.model_validate(values)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(1.0, "1s"), (0.5, "500ms"), (0.25, "250ms"), (15, "15s"), (60, "1m"), (90, "90s"),
     (3600.0, "1h"), (1.5, "1500ms"), (300, "5m")],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), 0.0001])
def test_format_duration_rejects_nonsense(seconds: float) -> None:
    with pytest.raises(ConfigError):
        format_duration(seconds)


def test_prometheus_config_has_the_values() -> None:
    doc = yaml.safe_load(render_prometheus_config(_prom_cfg(evaluation_interval_s=0.5,
                                                            prometheus_address="127.0.0.1:19090")))
    assert doc["global"] == {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "500ms",
        "external_labels": {"drill_run": "run-1"},
    }
    assert doc["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]
    assert doc["rule_files"] == [str(RULES_DIR / "*.yml")]
    jobs = {job["job_name"]: job for job in doc["scrape_configs"]}
    assert jobs["demo-target"]["static_configs"] == [{"targets": ["127.0.0.1:18080"]}]
    assert jobs["demo-target"]["metrics_path"] == "/metrics"
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:19090"]}]


def test_prometheus_self_scrape_is_optional_and_labels_are_quoted() -> None:
    doc = yaml.safe_load(render_prometheus_config(_prom_cfg(external_labels={"a": 'x: "y" # z'})))
    assert [job["job_name"] for job in doc["scrape_configs"]] == ["demo-target"]
    assert doc["global"]["external_labels"] == {"a": 'x: "y" # z'}


def test_prometheus_config_validation() -> None:
    with pytest.raises(ValidationError):
        _prom_cfg(unknown_field=1)
    with pytest.raises(ValidationError):
        _prom_cfg(target_address="http://127.0.0.1:80")
    with pytest.raises(ValidationError):
        _prom_cfg(scrape_interval_s=0)
    with pytest.raises(ConfigError):
        render_prometheus_config(_prom_cfg(scrape_timeout_s=2.0))


def test_alertmanager_config_has_the_values(tmp_path: Path) -> None:
    cfg = _am_cfg(tmp_path, receiver_url="http://127.0.0.1:18081/")
    doc = yaml.safe_load(render_alertmanager_config(cfg))
    assert doc["global"] == {"resolve_timeout": "5m"}
    route = doc["route"]
    assert route["group_by"] == ["..."]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("500ms", "1s", "1h")
    [receiver] = doc["receivers"]
    assert route["receiver"] == receiver["name"]
    [hook] = receiver["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:18081/alertmanager"
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {
        "type": "Bearer", "credentials_file": cfg.credentials_file
    }
    [inhibit] = doc["inhibit_rules"]
    assert inhibit["equal"] == ["service"]
    source, target = inhibit["source_matchers"][0], inhibit["target_matchers"][0]
    for cause in ("DemoRedisDown", "DemoPostgresDown", "DemoRulesErrors",
                  "DemoTargetDown", "DemoTargetRestarting"):
        assert cause in source
    assert "DemoHighErrorRatio" in target and "DemoHighLatencyP95" in target


@pytest.mark.parametrize("url", ["http://127.0.0.1:18081", "http://127.0.0.1:18081/",
                                 "http://127.0.0.1:18081/alertmanager", "http://127.0.0.1:18081/alertmanager/"])
def test_receiver_url_base_or_route_gives_one_route(tmp_path: Path, url: str) -> None:
    doc = yaml.safe_load(render_alertmanager_config(_am_cfg(tmp_path, receiver_url=url)))
    assert doc["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:18081/alertmanager"


def test_alertmanager_config_validation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        _am_cfg(tmp_path, receiver_url="127.0.0.1:18081")
    with pytest.raises(ValidationError):
        _am_cfg(tmp_path, extra="x")
    with pytest.raises(ValidationError):
        _am_cfg(tmp_path, group_wait_s=-1)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_promtool_accepts_rendered_prometheus_config(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(render_prometheus_config(_prom_cfg(prometheus_address="127.0.0.1:19090")))
    result = _run("promtool", "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 rules found" in result.stdout + result.stderr


@needs_promtool
def test_promtool_rejects_config_with_missing_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(render_prometheus_config(_prom_cfg(rule_files=[str(tmp_path / "missing.yml")])))
    # promtool treats a glob that matches nothing as fine, a named missing file as an error
    result = _run("promtool", "check", "config", str(path))
    assert result.returncode != 0


@needs_promtool
def test_promtool_check_rules() -> None:
    rule_files = sorted(RULES_DIR.glob("*.yml"))
    assert rule_files
    result = _run("promtool", "check", "rules", *map(str, rule_files))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rule_unit_tests() -> None:
    tests = sorted(PROM_TESTS_DIR.glob("*.yml"))
    assert len(tests) >= 2
    result = _run("promtool", "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests can fail: the same tests against a rule with a wrong threshold fail."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    rules = (RULES_DIR / "demo-target.yml").read_text()
    assert ") > 0.05" in rules
    (tmp_path / "rules" / "demo-target.yml").write_text(rules.replace(") > 0.05", ") > 0.5"))
    for test in PROM_TESTS_DIR.glob("*.yml"):
        (tmp_path / "tests" / test.name).write_text(test.read_text())
    result = _run("promtool", "test", "rules", str(tmp_path / "tests" / "demo-target-symptoms.yml"))
    assert result.returncode != 0
    assert "DemoHighErrorRatio" in result.stdout + result.stderr


@needs_amtool
def test_amtool_accepts_rendered_alertmanager_config(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(_am_cfg(tmp_path)))
    result = _run("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 inhibit rules" in result.stdout


def test_every_rule_has_the_contract_labels_and_annotations() -> None:
    runbook_ids = set()
    for path in RULES_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
                assert rule["labels"]["service"] == "demo-target", rule["alert"]
                assert {"summary", "description", "runbook_id"} <= set(rule["annotations"]), rule["alert"]
                runbook_ids.add(rule["annotations"]["runbook_id"])
    assert {"error_rate_spike", "api_high_latency", "cache_service_failure", "database_connection_failure",
            "oom_restart", "bad_rules_deploy"} <= runbook_ids
