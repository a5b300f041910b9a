"""The CI gate on synthetic runs: thresholds, regressions against a baseline file or the history."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from drill_samples import result, run

from harness.cli.main import cli
from harness.drill import history
from harness.drill.results import DrillResult, RunResults, Verdict
from harness.errors import GateError
from harness.gate import run_gate


def write_run(report_dir: Path, run_results: RunResults, *, latest: bool = True) -> None:
    run_dir = report_dir / run_results.run_id
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(run_results.model_dump_json())
    history.append(report_dir, run_results.drills)
    if latest:
        link = report_dir / "latest"
        if link.is_symlink():
            link.unlink()
        os.symlink(run_results.run_id, link)


def history_runs(report_dir: Path, mttrs: list[float]) -> None:
    for i, mttr in enumerate(mttrs):
        write_run(report_dir, run(f"old-{i}", [result(run_id=f"old-{i}", mttr=mttr)]), latest=False)


def test_passes_within_tolerance_of_the_history_median(tmp_path: Path) -> None:
    history_runs(tmp_path, [14.0, 15.0, 16.0])
    write_run(tmp_path, run("new", [result(run_id="new", mttr=17.0)]))
    report = run_gate(tmp_path, tolerance_pct=20)
    assert report.ok, report.lines()
    assert report.lines()[-1] == "gate: PASS"


def test_fails_when_mttr_regresses_beyond_tolerance(tmp_path: Path) -> None:
    history_runs(tmp_path, [14.0, 15.0, 16.0])
    write_run(tmp_path, run("new", [result(run_id="new", mttr=30.0)]))
    report = run_gate(tmp_path, tolerance_pct=20)
    assert not report.ok
    row = next(r for r in report.rows if r.figure == "mttr_seconds")
    assert row.baseline == 15.0 and row.current == 30.0
    assert row.problems == ["regressed 100% vs baseline"]


def test_fails_on_a_breached_threshold_even_without_history(tmp_path: Path) -> None:
    write_run(tmp_path, run("new", [result(run_id="new", mttr=90.0)]))
    report = run_gate(tmp_path)
    assert not report.ok
    assert any("over threshold 60s" in p for r in report.rows for p in r.problems)


def test_fails_on_a_failed_verdict(tmp_path: Path) -> None:
    write_run(tmp_path, run("new", [result(run_id="new", verdict=Verdict.FAIL)]))
    assert not run_gate(tmp_path).ok


def test_baseline_file_in_both_formats(tmp_path: Path) -> None:
    write_run(tmp_path, run("new", [result(run_id="new", mttd=7.0, mttr=20.0)]))
    simple = tmp_path / "baseline.json"
    simple.write_text(json.dumps({"http-5xx": {"mttd_seconds": 7.0, "mttr_seconds": 10.0}}))
    assert not run_gate(tmp_path, baseline=simple, tolerance_pct=50).ok
    as_results = tmp_path / "baseline-results.json"
    as_results.write_text(run("base", [result(run_id="base", mttr=19.0)]).model_dump_json())
    assert run_gate(tmp_path, baseline=as_results, tolerance_pct=10).ok


def test_unreadable_baseline_is_a_gate_error(tmp_path: Path) -> None:
    write_run(tmp_path, run("new", [result(run_id="new")]))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    with pytest.raises(GateError):
        run_gate(tmp_path, baseline=bad)


def test_no_run_is_a_gate_error(tmp_path: Path) -> None:
    with pytest.raises(GateError):
        run_gate(tmp_path)


def test_cli_exit_codes(tmp_path: Path) -> None:
    history_runs(tmp_path, [15.0])
    write_run(tmp_path, run("new", [result(run_id="new", mttr=15.5)]))
    ok = CliRunner().invoke(cli, ["gate", "--report-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "gate: PASS" in ok.output
    (tmp_path / "latest").unlink()
    write_run(tmp_path, run("newer", [result(run_id="newer", mttr=45.0)]))
    bad = CliRunner().invoke(cli, ["gate", "--report-dir", str(tmp_path), "--tolerance", "20"])
    assert bad.exit_code == 1
    assert "regressed" in bad.output and "gate: FAIL" in bad.output
    missing = CliRunner().invoke(cli, ["gate", "--report-dir", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "no drill run found" in missing.output


def test_history_skips_torn_lines(tmp_path: Path) -> None:
    history.append(tmp_path, [result()])
    with open(tmp_path / "history.jsonl", "a") as fh:
        fh.write('{"scenario": "torn"')
    assert [r.scenario for r in history.read(tmp_path)] == ["http-5xx"]
    assert isinstance(history.read(tmp_path)[0], DrillResult)
