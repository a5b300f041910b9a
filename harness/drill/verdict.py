"""From what a drill measured to its figures and verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from harness.drill.results import DrillResult, StepRecord, Verdict
from harness.drill.timeline import EventKind, Timeline
from harness.errors import SafetyError
from harness.stack.base import Service

if TYPE_CHECKING:
    from datetime import datetime

    from harness.drill.context import DrillContext
    from harness.drill.loop import DrillRunner
    from harness.load.models import LoadSummary
    from harness.scenarios.models import Scenario


def since_fault(timeline: Timeline, kind: EventKind) -> float | None:
    return timeline.seconds_between(EventKind.FAULT_INJECTED, kind)


def rule_for_seconds(ctx: DrillContext, names: set[str]) -> float | None:
    """The longest `for` of the expected alerts' rules, as loaded in Prometheus."""
    url = ctx.stack.endpoint(Service.PROMETHEUS).url + "/api/v1/rules"
    try:
        groups = ctx.http.get(url, params={"type": "alert"}).json()["data"]["groups"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None
    durations = [float(r.get("duration", 0.0)) for g in groups for r in g["rules"] if r.get("name") in names]
    return max(durations) if durations else None


def detection_floor(ctx: DrillContext) -> tuple[float | None, float | None]:
    """(MTTD floor, MTTN floor): scrape + evaluation + rule `for` (+ group_wait for the notification)."""
    timing = ctx.stack.alert_timing()
    names = set(ctx.scenario.expect.alerts)
    hold = rule_for_seconds(ctx, names) if names else None
    if timing is None or hold is None:
        return None, None
    floor = timing.scrape_interval_s + timing.evaluation_interval_s + hold
    return round(floor, 3), round(floor + timing.group_wait_s, 3)


def user_seen_recovery(summary: LoadSummary, scenario: Scenario) -> datetime | None:
    """The scenario's recovery criteria, applied to the load generator's per-request results."""
    threshold, max_p95_ms = 0.05, None
    for criterion in scenario.recovery.criteria:
        if criterion.error_ratio is not None:
            threshold = max(criterion.error_ratio.max, 1e-9)
        if criterion.p95_latency is not None:
            max_p95_ms = criterion.p95_latency.max_seconds * 1000
    return summary.user_seen_recovery(
        threshold=threshold, hold_s=scenario.recovery.hold_seconds, max_p95_ms=max_p95_ms
    )


def build_result(runner: DrillRunner) -> DrillResult:
    ctx = runner.ctx
    scenario, timeline = ctx.scenario, ctx.timeline
    thresholds = scenario.thresholds.plain()
    injected = timeline.first(EventKind.FAULT_INJECTED)
    runs = runner.response.runs() if runner.response is not None else []
    steps: list[StepRecord] = [s for r in runs for s in r.steps]
    main_run = runner.response.main_run() if runner.response is not None else None
    mttm = None
    if injected is not None and main_run is not None and main_run.finished is not None:
        mttm = round((main_run.finished - injected.wall).total_seconds(), 3)
    floor, notify_floor = detection_floor(ctx)
    summary = runner.load_summary
    mttr_user = None
    impact_kwargs = {}
    phases = []
    acknowledged = 0
    if summary is not None:
        phases = summary.phases
        acknowledged = len(summary.acknowledged_write_ids)
        seen = user_seen_recovery(summary, scenario)
        if seen is not None and injected is not None:
            mttr_user = round((seen - injected.wall).total_seconds(), 3)
        impact_kwargs = {"impact": summary.impact()}
    result = DrillResult(
        scenario=scenario.name,
        run_id=ctx.run_id,
        iteration=ctx.iteration,
        severity=scenario.severity.value,
        schedule=scenario.schedule.value,
        backend=ctx.stack.backend,
        fault=f"{scenario.fault.kind} {scenario.fault.params}",
        runbook=scenario.expect.runbook,
        verdict=Verdict.PASS,
        started=timeline.events[0].wall if timeline.events else ctx.clock.now(),
        finished=ctx.clock.now(),
        mttd_seconds=since_fault(timeline, EventKind.ALERT_FIRING),
        mttn_seconds=since_fault(timeline, EventKind.NOTIFICATION_FIRING),
        mttm_seconds=mttm,
        mttr_seconds=since_fault(timeline, EventKind.RECOVERED),
        mttr_user_seconds=mttr_user,
        detection_floor_seconds=floor,
        notification_floor_seconds=notify_floor,
        rollback_ok=runner.rollback.ok if runner.rollback.ran else None,
        rollback_details=runner.rollback.problems or runner.rollback.checked,
        writes_acknowledged=acknowledged,
        writes_lost=len(runner.lost_writes),
        lost_write_ids=runner.lost_writes[:100],
        thresholds=thresholds,
        timeline=timeline.events,
        steps=steps,
        load=phases,
        notes=list(ctx.notes),
        **impact_kwargs,
    )
    result.verdict, result.reasons = judge(result, runner.error, scenario.expect.alerts)
    if runner.fault_expired and not scenario.manual:
        result.reasons.append(
            "the fault reached its TTL (fault.max_duration_seconds) before the service recovered: "
            "recovery was not the runbook's doing"
        )
    if scenario.expect.runbook and main_run is None:
        result.reasons.append(f"runbook {scenario.expect.runbook} never ran via the alert path")
    elif main_run is not None and main_run.outcome.value != "succeeded":
        result.reasons.append(f"runbook {main_run.runbook} {main_run.outcome.value}: {main_run.error or ''}")
    if result.reasons and result.verdict == Verdict.PASS:
        result.verdict = Verdict.FAIL
    return result


def judge(result: DrillResult, error: BaseException | None, alerts: list[str]) -> tuple[Verdict, list[str]]:
    """pass / fail (a promise broken) / error (the drill itself could not run)."""
    reasons: list[str] = []
    t = result.thresholds
    if error is not None:
        reasons.append(f"{type(error).__name__}: {error}")
    if alerts and result.mttd_seconds is None:
        reasons.append(f"expected alert(s) {alerts} never fired")
    if alerts and result.mttn_seconds is None:
        reasons.append("no notification reached the receiver")
    for name, value, limit in (
        ("MTTD", result.mttd_seconds, t.max_mttd_seconds),
        ("MTTN", result.mttn_seconds, t.max_mttn_seconds),
        ("MTTR", result.mttr_seconds, t.max_mttr_seconds),
    ):
        if value is not None and limit is not None and value > limit:
            reasons.append(f"{name} {value:.2f}s exceeds max {limit:g}s")
    if result.mttr_seconds is None and error is None:
        reasons.append("service never met its recovery criteria")
    if t.rollback_required and result.rollback_ok is not True:
        reasons.append("rollback incomplete: " + "; ".join(result.rollback_details))
    if result.writes_lost > t.max_lost_writes:
        reasons.append(f"{result.writes_lost} acknowledged write(s) lost (max {t.max_lost_writes})")
    failed_steps = [s for s in result.steps if s.outcome in ("failed", "refused")]
    if failed_steps:
        reasons.append("runbook step(s) failed: " + ", ".join(f"{s.runbook}/{s.step}" for s in failed_steps))
    if not reasons:
        return Verdict.PASS, []
    injected = any(e.kind == EventKind.FAULT_INJECTED for e in result.timeline)
    broke_itself = error is not None and not isinstance(error, SafetyError) and not injected
    return (Verdict.ERROR if broke_itself else Verdict.FAIL), reasons
