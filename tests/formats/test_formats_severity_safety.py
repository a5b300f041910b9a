"""Severity spellings and the safety allow-list."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from harness.errors import SafetyError
from harness.loader import parse_yaml_text, validate_document
from harness.scenarios import check_allowed, faultspec
from harness.scenarios.hosts import hosts_in_params, is_local_host, is_loopback
from harness.scenarios.models import Scenario
from harness.scenarios.safety import remote_hosts
from harness.severity import Severity, SeverityField


class _WithSeverity(BaseModel):
    severity: SeverityField


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SEV1", Severity.SEV1), ("Sev1", Severity.SEV1), ("sev-1", Severity.SEV1), ("SEV-1", Severity.SEV1),
        ("sev 2", Severity.SEV2), ("SEV_3", Severity.SEV3), (" sev3 ", Severity.SEV3),
        ("P0", Severity.SEV1), ("p1", Severity.SEV1), ("P2", Severity.SEV2), ("P3", Severity.SEV3),
    ],
)
def test_severity_spellings(text: str, expected: Severity) -> None:
    assert Severity.parse(text) is expected
    assert _WithSeverity(severity=text).severity is expected


@pytest.mark.parametrize("bad", ["SEV4", "SEV0", "P4", "critical", "", "SEV12", "S1"])
def test_unknown_severities_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse(bad)
    with pytest.raises(ValidationError):
        _WithSeverity(severity=bad)


def test_severity_must_be_a_string_and_ranks() -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        _WithSeverity(severity=1)
    assert _WithSeverity(severity=Severity.SEV2).model_dump(mode="json") == {"severity": "SEV2"}
    assert [s.rank for s in Severity] == [1, 2, 3]


def test_local_hosts() -> None:
    for host in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST", "api.localhost",
                 "prometheus", "redis", "fault_proxy", "fault-proxy", "target"):
        assert is_local_host(host), host
    for host in ("10.0.0.1", "0.0.0.0", "example.com", "localhost.example.com", "192.168.1.1", "::"):
        assert not is_local_host(host), host
    assert is_loopback("127.0.0.1") and not is_loopback("redis")


def test_hosts_in_fault_params() -> None:
    params = {"url": "http://db.internal:5432/x", "upstream": "cache.internal:6379",
              "nested": [{"host": "10.1.2.3"}], "route": "redis", "path_regex": "^/orders"}
    assert sorted(hosts_in_params(params)) == ["10.1.2.3", "cache.internal", "db.internal"]


BASE = """\
name: remote
description: aims somewhere
schedule: weekly
severity: P2
fault: {kind: http_errors, params: {}, max_duration_seconds: 30}
expect: {alerts: [A], runbook: rb}
recovery: {criteria: [{ready: {}}], hold_seconds: 5, timeout_seconds: 60}
"""


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faultspec, "_fault_registry", lambda: None)


def scenario(extra: str = "") -> Scenario:
    return validate_document(parse_yaml_text(BASE + extra, "remote.yaml"), Scenario)


def test_local_scenarios_are_always_allowed() -> None:
    check_allowed(scenario(), cli_allow_remote=False)
    local = scenario("target: {kind: external, base_url: 'http://127.0.0.1:8080'}\n"
                     "steady_state: [{http: {url: 'http://localhost:9090/-/ready'}}]\n")
    assert local.fault_hosts() == ["127.0.0.1", "localhost"]
    check_allowed(local, cli_allow_remote=False)


def test_remote_target_needs_every_opt_in() -> None:
    target = "target: {kind: external, base_url: 'https://staging.example.com', allow_remote: true}\n"
    only_target = scenario(target)
    assert remote_hosts(only_target) == ["staging.example.com"]
    with pytest.raises(SafetyError) as info:
        check_allowed(only_target, cli_allow_remote=True)
    message = str(info.value)
    assert "staging.example.com" in message and "safety.allow_remote: true" in message
    assert "--allow-remote" not in message
    both = scenario(target + "safety: {allow_remote: true}\n")
    with pytest.raises(SafetyError, match="--allow-remote"):
        check_allowed(both, cli_allow_remote=False)
    check_allowed(both, cli_allow_remote=True)


def test_fault_hosts_must_be_listed() -> None:
    params = (
        "fault: {kind: http_errors, params: {upstream: 'db.example.com:5432'}, max_duration_seconds: 30}\n"
    )
    text = BASE.replace("fault: {kind: http_errors, params: {}, max_duration_seconds: 30}\n", params)
    unlisted = validate_document(parse_yaml_text(text + "safety: {allow_remote: true}\n", "r.yaml"), Scenario)
    with pytest.raises(SafetyError, match=r"list db\.example\.com in safety\.allow_hosts"):
        check_allowed(unlisted, cli_allow_remote=True)
    listed = validate_document(
        parse_yaml_text(text + "safety: {allow_remote: true, allow_hosts: ['db.example.com']}\n", "r.yaml"),
        Scenario,
    )
    check_allowed(listed, cli_allow_remote=True)
    with pytest.raises(SafetyError):
        check_allowed(listed, cli_allow_remote=False)


def test_remote_probe_url_is_checked_too() -> None:
    probe = scenario("steady_state: [{http: {url: 'https://status.example.com/health'}}]\n")
    with pytest.raises(SafetyError, match=r"status\.example\.com"):
        check_allowed(probe, cli_allow_remote=True)
