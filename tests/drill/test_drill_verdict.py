"""Verdicts from measured figures: thresholds, rollback, lost writes, missing detection."""

from __future__ import annotations

from drill_samples import result

from harness.drill.results import Thresholds, Verdict
from harness.drill.verdict import judge
from harness.errors import DrillHalted, WaitTimeout


def test_all_within_thresholds_passes() -> None:
    assert judge(result(), None, ["DemoHighErrorRatio"]) == (Verdict.PASS, [])


def test_mttr_over_threshold_fails_with_the_figure() -> None:
    verdict, reasons = judge(result(mttr=75.0), None, ["A"])
    assert verdict == Verdict.FAIL
    assert reasons == ["MTTR 75.00s exceeds max 60s"]


def test_alert_that_never_fired_fails() -> None:
    verdict, reasons = judge(result(mttd=None), None, ["DemoRedisDown"])
    assert verdict == Verdict.FAIL
    assert "expected alert(s) ['DemoRedisDown'] never fired" in reasons
    assert "no notification reached the receiver" in reasons


def test_lost_write_fails_unless_allowed() -> None:
    r = result()
    r.writes_lost = 1
    assert judge(r, None, ["A"])[0] == Verdict.FAIL
    r.thresholds = Thresholds(max_lost_writes=1)
    assert judge(r, None, ["A"]) == (Verdict.PASS, [])


def test_incomplete_rollback_fails_when_required() -> None:
    r = result()
    r.rollback_ok = False
    r.rollback_details = ["target flags: {'cache_bypass': False} before, {'cache_bypass': True} after"]
    verdict, reasons = judge(r, None, ["A"])
    assert verdict == Verdict.FAIL and "cache_bypass" in reasons[0]
    r.thresholds = Thresholds(rollback_required=False, max_mttr_seconds=60)
    assert judge(r, None, ["A"])[0] == Verdict.PASS


def test_failed_runbook_step_fails() -> None:
    from harness.drill.results import StepRecord

    r = result()
    r.steps = [StepRecord(runbook="rb", step="restart", kind="service", started=r.started, outcome="failed")]
    verdict, reasons = judge(r, None, ["A"])
    assert verdict == Verdict.FAIL and reasons == ["runbook step(s) failed: rb/restart"]


def test_a_drill_that_could_not_inject_is_an_error_not_a_fail() -> None:
    r = result(mttd=None, mttr=None, injected=False)
    verdict, _ = judge(r, WaitTimeout("steady state did not hold before the fault"), ["A"])
    assert verdict == Verdict.ERROR


def test_a_halted_drill_fails_with_the_reason() -> None:
    r = result(mttr=None)
    verdict, reasons = judge(r, DrillHalted("kill switch set"), ["A"])
    assert verdict == Verdict.FAIL
    assert reasons[0] == "DrillHalted: kill switch set"
