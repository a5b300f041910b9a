"""Every shipped scenario, on one real local stack, through the real alert → runbook path.

Checks each drill's verdict, that the load ran in every phase, and that the incident write-up in its
report carries the figures of that drill's own results.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.drill.context import DrillOptions
from harness.drill.results import DrillResult, Verdict
from harness.drill.session import DrillSession
from harness.report.metrics import file_stem
from harness.runbooks.catalog import load_runbooks
from harness.scenarios.load import load_scenarios
from harness.scenarios.models import Scenario
from harness.stack.local import LocalSettings, LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCENARIOS = load_scenarios(Path(__file__).resolve().parents[2] / "scenarios")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrillSession]:
    mp = pytest.MonkeyPatch()
    mp.setenv("DRILL_STATE_DIR", str(tmp_path_factory.mktemp("shipped-state")))
    stack = LocalStack(LocalSettings(run_dir=tmp_path_factory.mktemp("shipped-stack")))
    try:
        stack.up()
        reports = tmp_path_factory.mktemp("shipped-reports")
        yield DrillSession(stack, load_runbooks(), DrillOptions(report_dir=reports))
    finally:
        stack.down()
        mp.undo()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_shipped_drill(session: DrillSession, scenario: Scenario) -> None:
    result = session.run(scenario)
    assert result.verdict == Verdict.PASS, result.reasons
    assert result.mttd_seconds is not None and result.mttn_seconds is not None
    assert result.mttr_seconds is not None and result.mttm_seconds is not None
    assert result.rollback_ok is True and result.writes_lost == 0
    phases = {p.phase: p for p in result.load}
    assert set(phases) == {"before", "during", "after"}
    assert all(p.requests > 0 for p in phases.values()), {k: p.requests for k, p in phases.items()}
    assert result.writes_acknowledged > 0
    check_writeup(session.run_dir, result)


def check_writeup(run_dir: Path, result: DrillResult) -> None:
    """The write-up's figures are the ones results.json holds for this drill."""
    stored = next(
        DrillResult.model_validate(d)
        for d in json.loads((run_dir / "results.json").read_text())["drills"]
        if d["scenario"] == result.scenario and d["iteration"] == result.iteration
    )
    text = (run_dir / f"{file_stem(result.scenario, result.iteration)}.writeup.md").read_text()
    assert stored.mttd_seconds is not None and stored.mttn_seconds is not None
    assert stored.mttr_seconds is not None
    assert f"detected (alert firing) after {stored.mttd_seconds:.1f} s" in text
    assert f"notification after {stored.mttn_seconds:.1f} s" in text
    assert f"recovered after {stored.mttr_seconds:.1f} s" in text
    impact = stored.impact
    assert f"Requests failed: {impact.requests_failed} of {impact.requests_total}" in text
    assert f"Acknowledged writes lost: {stored.writes_lost} of {stored.writes_acknowledged}" in text
    for step in stored.steps:
        if step.outcome != "started":
            assert f"{step.runbook} / {step.step} [{step.kind}]: {step.outcome}" in text
    assert f"**Severity**: {stored.severity}" in text
