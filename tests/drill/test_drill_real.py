"""Whole drills on the real local stack: lost writes, the kill switch, the gate on a slower runbook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.drill.context import DrillContext, DrillOptions, halt_file
from harness.drill.loop import DrillRunner, postgres_dsn
from harness.drill.results import DrillResult, Verdict
from harness.drill.session import DrillSession
from harness.drill.timeline import EventKind
from harness.faults.ledger import FaultLedger
from harness.gate import run_gate
from harness.runbooks.catalog import load_runbooks
from harness.runbooks.models import Runbook
from harness.scenarios.load import load_scenario
from harness.scenarios.models import Scenario
from harness.stack.local import LocalSettings, LocalStack

pytestmark = pytest.mark.integration
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("drill-state")
    mp = pytest.MonkeyPatch()
    mp.setenv("DRILL_STATE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def stack(state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s = LocalStack(LocalSettings(run_dir=tmp_path_factory.mktemp("drill-stack")))
    try:
        s.up()
        yield s
    finally:
        s.down()


def smoke() -> Scenario:
    return load_scenario(SCENARIOS / "smoke-5xx.yaml")


def context(
    stack: LocalStack, scenario: Scenario, report_dir: Path, runbooks: dict[str, Runbook]
) -> DrillContext:
    report_dir.mkdir(parents=True, exist_ok=True)
    return DrillContext(
        scenario=scenario,
        stack=stack,
        runbooks=runbooks,
        options=DrillOptions(report_dir=report_dir),
        run_id="t",
        run_dir=report_dir,
        ledger=FaultLedger(),
    )


class DeletesAnAcknowledgedWrite(DrillRunner):
    """Deletes one acknowledged order behind the target's back before the data-integrity audit."""

    deleted: str | None = None

    def _audit_writes(self) -> None:
        assert self.load_summary is not None and self.load_summary.acknowledged_write_ids
        self.deleted = self.load_summary.acknowledged_write_ids[0]
        with psycopg.connect(postgres_dsn(self.ctx)) as conn:
            conn.execute("DELETE FROM orders WHERE id = %s", (self.deleted,))
        super()._audit_writes()


def test_a_lost_acknowledged_write_fails_the_drill(stack: LocalStack, tmp_path: Path) -> None:
    runner = DeletesAnAcknowledgedWrite(context(stack, smoke(), tmp_path, load_runbooks()))
    result = runner.run()
    assert runner.deleted is not None
    assert result.writes_lost == 1 and result.lost_write_ids == [runner.deleted]
    assert result.writes_acknowledged > 10
    assert result.verdict == Verdict.FAIL
    assert "1 acknowledged write(s) lost (max 0)" in result.reasons
    # everything else about the drill was fine
    assert result.mttd_seconds is not None and result.mttr_seconds is not None and result.rollback_ok


def test_the_kill_switch_aborts_and_reverts(stack: LocalStack, tmp_path: Path, state: Path) -> None:
    scenario = smoke().model_copy(deep=True)
    scenario.expect.runbook = None  # nobody responds: only the kill switch ends the fault
    scenario.fault.max_duration_seconds = 120
    runner = DrillRunner(context(stack, scenario, tmp_path, load_runbooks()))
    out: list[DrillResult] = []
    thread = threading.Thread(target=lambda: out.append(runner.run()))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while runner.ctx.timeline.first(EventKind.FAULT_INJECTED) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert runner.ctx.timeline.first(EventKind.FAULT_INJECTED) is not None
        halted_at = time.monotonic()
        halt_file().write_text("test")
        thread.join(timeout=90)
        assert not thread.is_alive()
    finally:
        halt_file().unlink(missing_ok=True)
        thread.join(timeout=90)
    result = out[0]
    reverted = runner.ctx.timeline.first(EventKind.FAULT_REVERTED)
    assert reverted is not None
    assert reverted.mono - halted_at < 10, "fault reverted within seconds of the kill switch"
    assert any(r.startswith("DrillHalted") for r in result.reasons)
    assert not [e for e in runner.ctx.ledger.active() if e.id == runner.fault.id]  # type: ignore[union-attr]


def slow_runbooks(delay_s: int) -> dict[str, Runbook]:
    runbooks = load_runbooks()
    slow = runbooks["error_rate_spike"].model_dump(mode="json")
    slow["steps"].insert(
        0, {"id": "think", "kind": "shell", "argv": ["sleep", str(delay_s)], "timeout_s": delay_s + 30}
    )
    runbooks["error_rate_spike"] = Runbook.model_validate(slow)
    return runbooks


def test_the_gate_fails_when_mttr_regresses(stack: LocalStack, tmp_path: Path) -> None:
    reports = tmp_path / "reports"

    def one_run(runbooks: dict[str, Runbook]) -> DrillResult:
        session = DrillSession(stack, runbooks, DrillOptions(report_dir=reports))
        result = session.run(smoke())
        session.finish()
        return result

    baseline = one_run(load_runbooks())
    assert baseline.verdict == Verdict.PASS, baseline.reasons
    baseline_file = reports / baseline.run_id / "results.json"
    again = one_run(load_runbooks())
    assert again.verdict == Verdict.PASS, again.reasons
    passing = run_gate(reports, baseline=baseline_file, tolerance_pct=100)
    assert passing.ok, passing.lines()
    slower = one_run(slow_runbooks(25))
    assert slower.mttr_seconds is not None and baseline.mttr_seconds is not None
    assert slower.mttr_seconds > baseline.mttr_seconds + 15
    failing = run_gate(reports, baseline=baseline_file, tolerance_pct=100)
    assert not failing.ok
    assert any("regressed" in p for row in failing.rows for p in row.problems), failing.lines()


def test_blast_radius_aborts_the_drill_and_reverts(stack: LocalStack, tmp_path: Path) -> None:
    scenario = smoke().model_copy(deep=True)
    scenario.fault.params = {"status": 503, "fraction": 0.9, "path_regex": "^/(orders|catalog)"}
    scenario.stop_conditions.max_error_ratio = 0.3  # a 90 % error rate is beyond the blast radius
    scenario.expect.runbook = None
    scenario.fault.max_duration_seconds = 120
    runner = DrillRunner(context(stack, scenario, tmp_path, load_runbooks()))
    result = runner.run()
    assert any(r.startswith("DrillAborted: stop condition: error ratio") for r in result.reasons), (
        result.reasons
    )
    assert result.verdict == Verdict.FAIL
    injected = runner.ctx.timeline.first(EventKind.FAULT_INJECTED)
    reverted = runner.ctx.timeline.first(EventKind.FAULT_REVERTED)
    assert injected is not None and reverted is not None
    assert reverted.mono - injected.mono < 60, "aborted long before the fault's own 120 s"
    assert runner.fault is not None
    assert not [e for e in runner.ctx.ledger.active() if e.id == runner.fault.id]
