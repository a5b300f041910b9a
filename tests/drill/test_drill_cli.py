"""drillctl run: the dry-run plan, and --repeat on the real local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import cli


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "http-5xx", "--dry-run", "--report-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "fault: http_errors" in result.output
    assert "steps: rollback_ingress [http]" in result.output
    assert "thresholds: MTTD<=" in result.output
    assert list(tmp_path.iterdir()) == []


def test_unknown_scenario_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "no-such-drill", "--report-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "no-such-drill" in result.output and "Traceback" not in result.output


@pytest.mark.integration
def test_repeat_reports_the_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_STATE_DIR", str(tmp_path / "state"))
    reports = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["run", "smoke-5xx", "--repeat", "2", "--report-dir", str(reports)])
    assert result.exit_code == 0, result.output
    assert "distribution over repeats" in result.output
    assert "smoke-5xx" in result.output and "mttr_seconds" in result.output
    data = json.loads((reports / "latest" / "results.json").read_text())
    assert [(d["scenario"], d["iteration"], d["verdict"]) for d in data["drills"]] == [
        ("smoke-5xx", 1, "pass"),
        ("smoke-5xx", 2, "pass"),
    ]
    assert (reports / "latest" / "index.html").exists()
