"""The pytest plugin, run with pytester: markers, option validation, and one real drill end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parents[2]


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    for marker in ("daily", "weekly", "monthly", "quarterly", "drill"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{marker}:*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "kubernetes"], "--stack must be one of auto, local, docker*"),
        (["--repeat", "twice"], "--repeat takes a number, e.g. --repeat 3*"),
        (["--repeat", "0"], "--repeat must be a finite number >= 1*"),
        (["--tolerance", "-5"], "--tolerance must be a finite number >= 0*"),
        (
            ["--baseline", "/nonexistent/baseline.json"],
            "--baseline /nonexistent/baseline.json: no such file*",
        ),
        (["--load-workers", "many"], "--load-workers takes a whole number 0..64*"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_no_drill_collected_means_no_stack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): assert True")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "drill results" not in result.stdout.str()


@pytest.mark.integration
def test_daily_drill_runs_end_to_end(pytester: pytest.Pytester) -> None:
    """`pytest drills -m daily` in a copy of the project layout: stack up, drill, results, report, history."""
    shutil.copytree(REPO / "scenarios", pytester.path / "scenarios")
    shutil.copytree(REPO / "drills", pytester.path / "drills")
    pytester.makeini("[pytest]\n")  # the copy's own rootdir, not the repo's testpaths
    generous = pytester.path / "generous.json"
    generous.write_text(json.dumps({"smoke-5xx": {"mttd_seconds": 60, "mttr_seconds": 120}}))
    args = ["drills", "-m", "daily", "-p", "no:cacheprovider", "--report-dir", "out"]
    args += [f"--junitxml={pytester.path / 'junit.xml'}", f"--alluredir={pytester.path / 'allure'}"]
    args += ["--gate", "--baseline", str(generous)]
    result = pytester.runpytest_subprocess(*args, timeout=600)
    result.assert_outcomes(passed=1, deselected=6)
    result.stdout.fnmatch_lines(
        ["*drill results*", "*smoke-5xx#1*PASS*", "drill report: *index.html", "*drill gate*", "gate: PASS"]
    )
    assert result.ret == 0
    latest = pytester.path / "out" / "latest" / "results.json"
    data = json.loads(latest.read_text())
    (drill,) = data["drills"]
    assert drill["scenario"] == "smoke-5xx" and drill["verdict"] == "pass"
    assert drill["mttd_seconds"] > 0 and drill["mttn_seconds"] >= drill["mttd_seconds"]
    assert drill["mttr_seconds"] > 0 and drill["rollback_ok"] is True
    assert drill["writes_acknowledged"] > 0 and drill["writes_lost"] == 0
    assert [p["phase"] for p in drill["load"]][:2] == ["before", "during"]
    history = (pytester.path / "out" / "history.jsonl").read_text().splitlines()
    assert len(history) == 1
    assert (pytester.path / "out" / "latest" / "index.html").exists()
    junit = (pytester.path / "junit.xml").read_text()
    assert junit.count("<testcase ") == 1 and "1.mttr_seconds" in junit
    # allure: the drill's timeline and its page are attached to the test
    attachments = {p.suffix for p in (pytester.path / "allure").glob("*-attachment*")}
    assert {".json", ".html"} <= attachments, attachments
    page = next((pytester.path / "allure").glob("*-attachment.html")).read_text()
    assert "smoke-5xx" in page and "<svg" in page


@pytest.mark.integration
def test_gate_option_fails_the_session_on_a_regression(pytester: pytest.Pytester) -> None:
    """The drill passes its own thresholds, but MTTR regressed against a (fast) baseline: --gate fails."""
    shutil.copytree(REPO / "scenarios", pytester.path / "scenarios")
    shutil.copytree(REPO / "drills", pytester.path / "drills")
    pytester.makeini("[pytest]\n")
    fast = pytester.path / "fast-baseline.json"
    fast.write_text(json.dumps({"smoke-5xx": {"mttd_seconds": 0.5, "mttr_seconds": 1.0}}))
    result = pytester.runpytest_subprocess(
        "drills",
        "-m",
        "daily",
        "-p",
        "no:cacheprovider",
        "--report-dir",
        "out",
        "--gate",
        "--baseline",
        str(fast),
        "--tolerance",
        "50",
        timeout=600,
    )
    result.assert_outcomes(passed=1, deselected=6)
    result.stdout.fnmatch_lines(["*drill gate*", "*smoke-5xx*mttr_seconds*regressed*", "gate: FAIL"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
