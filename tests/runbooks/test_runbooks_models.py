"""The runbook format: shipped runbooks load, bad files are reported with locations."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.runbook import runbook
from harness.errors import ValidationFailed
from harness.runbooks.catalog import load_runbooks
from harness.runbooks.models import AutomationLevel, LabelMatcher, Runbook, Trigger
from harness.severity import Severity

SHIPPED = {
    "cache_service_failure": "DemoRedisDown",
    "api_high_latency": "DemoHighLatencyP95",
    "database_connection_failure": "DemoPostgresDown",
    "oom_restart": "DemoTargetRestarting",
    "bad_rules_deploy": "DemoRulesErrors",
    "error_rate_spike": "DemoHighErrorRatio",
}

MINIMAL = """\
id: demo
title: Demo
severity: {severity}
automation: automatic
expected_recovery_seconds: 60
steps:
{steps}
"""


def write(tmp_path: Path, name: str, steps: str, severity: str = "Sev2") -> Path:
    path = tmp_path / name
    path.write_text(MINIMAL.format(severity=severity, steps=steps))
    return path


def test_shipped_runbooks_load() -> None:
    runbooks = load_runbooks()
    assert set(runbooks) == set(SHIPPED)
    for runbook_id, alertname in SHIPPED.items():
        rb = runbooks[runbook_id]
        assert rb.matches({"alertname": alertname, "service": "demo-target", "severity": "critical"})
        assert not rb.matches({"alertname": alertname, "service": "other"})
        assert rb.rollback, f"{runbook_id} declares no rollback steps"
        assert rb.expected_recovery_seconds > 0
    assert runbooks["database_connection_failure"].automation is AutomationLevel.SEMI_AUTOMATIC
    assert any(s.kind == "confirm" for s in runbooks["database_connection_failure"].steps)
    assert runbooks["error_rate_spike"].severity is Severity.SEV1  # written as P1


def test_severity_spellings(tmp_path: Path) -> None:
    step = "  - {id: s, kind: confirm, prompt: ok}"
    for spelling, expected in (("P0", "SEV1"), ("P2", "SEV2"), ("sev-3", "SEV3"), ("SEV1", "SEV1")):
        path = write(tmp_path, "a.yaml", step, spelling)
        assert load_runbooks(tmp_path)["demo"].severity == expected
        path.unlink()


def test_shell_string_is_a_validation_error_with_location(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "  - id: s\n    kind: shell\n    argv: rm -rf /tmp/x")
    with pytest.raises(ValidationFailed) as info:
        load_runbooks(tmp_path)
    (problem,) = info.value.problems
    assert "a.yaml:9:11:" in problem and "shell string" in problem


def test_problems_of_all_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "  - {id: s, kind: flag, flag: cache_bypass}")  # neither enabled nor restore
    write(tmp_path, "b.yaml", "  - {id: s, kind: teleport}")
    write(
        tmp_path,
        "c.yaml",
        "  - {id: s, kind: wait_for, promql: {query: up, value: 1}, hold_s: 50, timeout_s: 10}",
    )
    (tmp_path / "d.yaml").write_text(
        MINIMAL.format(severity="SEV9", steps="  - {id: s, kind: confirm, prompt: x}")
    )
    with pytest.raises(ValidationFailed) as info:
        load_runbooks(tmp_path)
    text = "\n".join(info.value.problems)
    for name in ("a.yaml", "b.yaml", "c.yaml", "d.yaml"):
        assert name in text, text
    assert "exactly one of enabled" in text and "hold_s" in text and "SEV9" in text


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "  - {id: s, kind: confirm, prompt: x, colour: red}")
    with pytest.raises(ValidationFailed, match="colour"):
        load_runbooks(tmp_path)


def test_step_ids_are_unique(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "  - {id: s, kind: confirm, prompt: x}\n  - {id: s, kind: confirm, prompt: y}")
    with pytest.raises(ValidationFailed, match="used twice"):
        load_runbooks(tmp_path)


def test_same_id_in_two_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "  - {id: s, kind: confirm, prompt: x}")
    write(tmp_path, "b.yaml", "  - {id: s, kind: confirm, prompt: x}")
    with pytest.raises(ValidationFailed, match="also used by"):
        load_runbooks(tmp_path)


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity!="critical"', {"severity": "critical"}, False),
        ('instance=~"127\\.0\\.0\\.1:.*"', {"instance": "127.0.0.1:80"}, True),
        ('instance=~"127"', {"instance": "127.0.0.1:80"}, False),  # anchored
        ('dependency!~"redis|postgres"', {"dependency": "kafka"}, True),
        ('missing=""', {}, True),
    ],
)
def test_label_matchers(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelMatcher.model_validate(matcher).matches(labels) is expected


def test_bad_matchers_are_refused() -> None:
    for bad in ("severity", 'severity=~"("', "severity==critical"):
        with pytest.raises(ValueError):
            Trigger.model_validate({"alert": "X", "matchers": [bad]})


def test_runbook_requires_a_step() -> None:
    with pytest.raises(ValueError):
        Runbook.model_validate(
            {
                "id": "x",
                "title": "x",
                "severity": "SEV1",
                "automation": "manual",
                "expected_recovery_seconds": 1,
                "steps": [],
            }
        )


def test_cli_list_show_and_dry_run(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(runbook, ["list"])
    assert listed.exit_code == 0
    assert all(runbook_id in listed.output for runbook_id in SHIPPED)
    shown = runner.invoke(runbook, ["show", "cache_service_failure"])
    assert shown.exit_code == 0 and '"DemoRedisDown"' in shown.output
    ledger = tmp_path / "audit.jsonl"
    dry = runner.invoke(runbook, ["run", "database_connection_failure", "--dry-run", "--ledger", str(ledger)])
    assert dry.exit_code == 0, dry.output
    assert "DRY RUN" in dry.output and "restart postgres" in dry.output
    assert len(ledger.read_text().splitlines()) == 1
    missing = runner.invoke(runbook, ["show", "nope"])
    assert missing.exit_code == 2
