"""Builders of DrillResult records for the drill unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.drill.results import DrillResult, RunResults, Thresholds, Verdict
from harness.drill.timeline import EventKind, TimelineEvent

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def result(
    scenario: str = "http-5xx",
    run_id: str = "run-1",
    *,
    mttd: float | None = 7.0,
    mttr: float | None = 15.0,
    verdict: Verdict = Verdict.PASS,
    iteration: int = 1,
    thresholds: Thresholds | None = None,
    injected: bool = True,
) -> DrillResult:
    timeline = [TimelineEvent(kind=EventKind.DRILL_STARTED, wall=T0, mono=0.0)]
    if injected:
        timeline.append(
            TimelineEvent(kind=EventKind.FAULT_INJECTED, wall=T0 + timedelta(seconds=3), mono=3.0)
        )
    return DrillResult(
        scenario=scenario,
        run_id=run_id,
        iteration=iteration,
        verdict=verdict,
        started=T0,
        finished=T0 + timedelta(seconds=30),
        mttd_seconds=mttd,
        mttn_seconds=None if mttd is None else mttd + 0.5,
        mttr_seconds=mttr,
        rollback_ok=True,
        thresholds=thresholds or Thresholds(max_mttd_seconds=20, max_mttr_seconds=60),
        timeline=timeline,
    )


def run(run_id: str, drills: list[DrillResult]) -> RunResults:
    return RunResults(run_id=run_id, started=T0, finished=T0 + timedelta(minutes=1), drills=drills)
