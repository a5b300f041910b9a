"""``drillctl report`` through click's CliRunner on a temporary reports directory."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner
from report_samples import RUN_ID

from harness.cli.report import report
from harness.drill.results import RunResults


def test_report_latest_by_default(reports_dir: Path, run_dir: Path) -> None:
    os.symlink(run_dir.name, reports_dir / "latest")
    result = CliRunner().invoke(report, ["--reports-dir", str(reports_dir)])
    assert result.exit_code == 0, result.output
    index = Path(result.output.strip())
    assert index == run_dir.resolve() / "index.html" and index.is_file()
    assert (run_dir / "redis-loss-1.html").is_file() and (run_dir / "bad-rules-deploy-1.html").is_file()


def test_report_by_run_id_path_and_results_file(reports_dir: Path, run_dir: Path) -> None:
    runner = CliRunner()
    for arg in (RUN_ID, str(run_dir), str(run_dir / "results.json")):
        result = runner.invoke(report, [arg, "--reports-dir", str(reports_dir)])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith(f"{RUN_ID}/index.html")


def test_report_regenerates_from_results(reports_dir: Path, run_dir: Path, run: RunResults) -> None:
    runner = CliRunner()
    assert runner.invoke(report, [str(run_dir)]).exit_code == 0
    changed = run.model_copy(update={"drills": [run.drills[1].model_copy(update={"scenario": "renamed"})]})
    (run_dir / "results.json").write_text(changed.model_dump_json())
    result = runner.invoke(report, [str(run_dir)])
    assert result.exit_code == 0, result.output
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "renamed" in index and "redis-loss #1" not in index


def test_report_trend(reports_dir: Path, run_dir: Path, run: RunResults) -> None:
    (reports_dir / "history.jsonl").write_text("".join(d.model_dump_json() + "\n" for d in run.drills))
    result = CliRunner().invoke(report, [RUN_ID, "--reports-dir", str(reports_dir), "--trend"])
    assert result.exit_code == 0, result.output
    lines = result.output.split()
    assert lines[0] == str(reports_dir.resolve() / "trend.html")
    assert lines[1].endswith("index.html")
    assert 'href="../trend.html"' in (run_dir / "index.html").read_text(encoding="utf-8")
    only_trend = CliRunner().invoke(report, ["--reports-dir", str(reports_dir), "--trend"])
    assert only_trend.exit_code == 0 and only_trend.output.strip().endswith("trend.html")


def test_report_errors_are_one_line_messages(reports_dir: Path, run_dir: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(report, ["no-such-run", "--reports-dir", str(reports_dir)])
    assert missing.exit_code != 0 and "no results.json found" in missing.output
    assert "Traceback" not in missing.output
    (run_dir / "results.json").write_text("{not json")
    broken = runner.invoke(report, [str(run_dir)])
    assert broken.exit_code != 0 and "results.json" in broken.output
    assert broken.exception is None or isinstance(broken.exception, SystemExit)
