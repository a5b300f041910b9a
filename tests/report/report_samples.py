"""Realistic drill results for the report tests: a failing Redis-loss drill and a passing bad-deploy drill."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.drill.results import (
    DrillResult,
    Impact,
    PhaseLoad,
    RunResults,
    StepRecord,
    Thresholds,
    Verdict,
)
from harness.drill.timeline import EventKind, JsonScalar, TimelineEvent
from harness.report.metrics import MetricKey, MetricSeries, MetricSeriesSet, metrics_path

SCRIPT_LABEL = "<script>alert(1)</script>"
TITLE_SCRIPT = "<script>document.title='PWNED'</script>"
T0 = datetime(2026, 3, 14, 9, 26, 53, 250000, tzinfo=UTC)
RUN_ID = "20260314T092600Z-ab12"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: EventKind, seconds: float, detail: str = "", **data: JsonScalar) -> TimelineEvent:
    return TimelineEvent(kind=kind, wall=at(seconds), mono=5000.0 + seconds, detail=detail, data=data)


def failing_drill() -> DrillResult:
    """Redis loss: detected late, one runbook step failed, recovery over the limit, one write lost."""
    steps = [
        StepRecord(
            runbook="redis-down",
            step="check-readiness",
            kind="http_probe",
            started=at(9.4),
            finished=at(9.6),
            outcome="ok",
            output='{"ready": false, "reasons": ["redis"]}',
        ),
        StepRecord(
            runbook="redis-down",
            step="open-redis-breaker",
            kind="admin_call",
            started=at(9.7),
            finished=at(10.1),
            outcome="ok",
            output='{"breakers": {"redis": "open"}}',
        ),
        StepRecord(
            runbook="redis-down",
            step="enable-cache-bypass",
            kind="flag",
            started=at(10.2),
            finished=at(16.9),
            outcome="failed",
            attempts=3,
            output=f"HTTP 500 from /admin/flags/cache_bypass: {TITLE_SCRIPT}",
        ),
        StepRecord(
            runbook="redis-down",
            step="notify-chat",
            kind="chat",
            started=at(17.0),
            finished=at(17.2),
            outcome="ok",
            output="posted to #incidents",
        ),
    ]
    timeline = [
        event(EventKind.DRILL_STARTED, -21.0, "redis-loss #1"),
        event(EventKind.STEADY_STATE_OK, -20.2, "error ratio 0.0%, p95 41 ms"),
        event(EventKind.LOAD_STARTED, -19.8, "profile steady-orders"),
        event(EventKind.FAULT_INJECTED, 0.0, "redis_down", target="redis", mode="stop"),
        event(EventKind.ALERT_PENDING, 3.1, "RedisDown"),
        event(
            EventKind.ALERT_FIRING,
            8.2,
            f"RedisDown instance={SCRIPT_LABEL}",
            alertname="RedisDown",
            instance=SCRIPT_LABEL,
        ),
        event(EventKind.NOTIFICATION_FIRING, 9.1, "RedisDown (critical)"),
        event(EventKind.RUNBOOK_STARTED, 9.3, "redis-down"),
        *(
            event(
                EventKind.RUNBOOK_STEP,
                (s.started - T0).total_seconds(),
                s.step,
                step=s.step,
                outcome=s.outcome,
            )
            for s in steps
        ),
        event(EventKind.RUNBOOK_FINISHED, 17.3, "redis-down: failed"),
        event(EventKind.RECOVERED, 41.5, "error ratio < 1% and readiness OK for 10 s"),
        event(EventKind.FAULT_REVERTED, 45.0, "redis_down"),
        event(EventKind.ALERT_RESOLVED, 52.3, "RedisDown"),
        event(EventKind.NOTIFICATION_RESOLVED, 53.0, "RedisDown"),
        event(EventKind.LOAD_STOPPED, 55.0),
        event(EventKind.STEADY_STATE_OK, 56.0, "error ratio 0.0%"),
        event(EventKind.ROLLBACK_VERIFIED, 57.0, "breaker redis still open", ok=False),
        event(EventKind.AUDIT_DONE, 58.0, "119 of 120 acknowledged writes found"),
        event(EventKind.DRILL_FINISHED, 58.5),
    ]
    return DrillResult(
        scenario="redis-loss",
        run_id=RUN_ID,
        iteration=1,
        severity="SEV2",
        fault="redis_down",
        runbook="redis-down",
        verdict=Verdict.FAIL,
        reasons=[
            "MTTD 8.2 s > 5.0 s",
            "MTTR 41.5 s > 30.0 s",
            "rollback incomplete",
            "1 acknowledged write lost",
        ],
        started=at(-21.0),
        finished=at(58.5),
        mttd_seconds=8.2,
        mttn_seconds=9.1,
        mttm_seconds=17.3,
        mttr_seconds=41.5,
        mttr_user_seconds=43.0,
        detection_floor_seconds=4.5,
        rollback_ok=False,
        rollback_details=["breaker redis: open (was closed)"],
        writes_acknowledged=120,
        writes_lost=1,
        lost_write_ids=["6f1c2a9e-0000-4000-8000-00000000beef"],
        thresholds=Thresholds(max_mttd_seconds=5.0, max_mttn_seconds=15.0, max_mttr_seconds=30.0),
        timeline=timeline,
        steps=steps,
        load=[
            PhaseLoad(
                phase="before",
                requests=1020,
                failures=0,
                failure_ratio=0.0,
                rps=51.0,
                p50_ms=12.0,
                p95_ms=41.0,
                p99_ms=60.0,
            ),
            PhaseLoad(
                phase="during",
                requests=2140,
                failures=412,
                failure_ratio=412 / 2140,
                rps=49.8,
                p50_ms=15.0,
                p95_ms=1004.0,
                p99_ms=1020.0,
                endpoints={
                    "GET /orders/{id}": {"requests": 1100, "failures": 400},
                    "POST /orders": {"requests": 1040, "failures": 12},
                },
            ),
            PhaseLoad(
                phase="after",
                requests=2070,
                failures=0,
                failure_ratio=0.0,
                rps=50.2,
                p50_ms=12.5,
                p95_ms=43.0,
                p99_ms=70.0,
            ),
        ],
        impact=Impact(
            requests_failed=412,
            requests_total=5230,
            affected_endpoints=["GET /orders/{id}", "POST /orders"],
            window_start=at(0.4),
            window_end=at(41.5),
        ),
        notes=[f"alert label seen: {SCRIPT_LABEL}"],
    )


def passing_drill() -> DrillResult:
    steps = [
        StepRecord(
            runbook="bad-deploy",
            step="rollback-rules",
            kind="admin_call",
            started=at(5.0),
            finished=at(5.4),
            outcome="ok",
            output='{"version": 1}',
        ),
    ]
    timeline = [
        event(EventKind.DRILL_STARTED, -10.0),
        event(EventKind.FAULT_INJECTED, 0.0, "bad_rules_deploy"),
        event(EventKind.ALERT_FIRING, 4.1, "RulesErrors"),
        event(EventKind.NOTIFICATION_FIRING, 4.6, "RulesErrors"),
        event(EventKind.RUNBOOK_STARTED, 4.8, "bad-deploy"),
        event(EventKind.RUNBOOK_FINISHED, 5.5, "bad-deploy: ok"),
        event(EventKind.RECOVERED, 18.0, "error ratio < 1% for 10 s"),
        event(EventKind.FAULT_REVERTED, 18.2),
        event(EventKind.ALERT_RESOLVED, 25.0),
        event(EventKind.ROLLBACK_VERIFIED, 26.0, "state restored"),
        event(EventKind.AUDIT_DONE, 26.5, "all 80 writes found"),
        event(EventKind.DRILL_FINISHED, 27.0),
    ]
    return DrillResult(
        scenario="bad-rules-deploy",
        run_id=RUN_ID,
        iteration=1,
        severity="P1",
        fault="bad_rules_deploy",
        runbook="bad-deploy",
        verdict=Verdict.PASS,
        started=at(-10.0),
        finished=at(27.0),
        mttd_seconds=4.1,
        mttn_seconds=4.6,
        mttm_seconds=5.5,
        mttr_seconds=18.0,
        rollback_ok=True,
        writes_acknowledged=80,
        writes_lost=0,
        thresholds=Thresholds(max_mttd_seconds=10.0, max_mttr_seconds=60.0),
        timeline=timeline,
        steps=steps,
        impact=Impact(
            requests_failed=95, requests_total=1800, affected_endpoints=["POST /orders", "GET /catalog"]
        ),
    )


def sample_metrics(result: DrillResult) -> MetricSeriesSet:
    """Series shaped like a Redis loss: errors and latency up from T+1 to T+41, traffic steady."""
    base = T0.timestamp()
    stamps = [base + s for s in range(-20, 60)]
    err = [(t, 0.19 if 1 <= t - base <= 41 else 0.0) for t in stamps]
    p95 = [(t, 1000.0 if 1 <= t - base <= 41 else 40.0 + 5 * math.sin(t)) for t in stamps]
    rps = [(t, 50.0 + 2 * math.cos(t / 3)) for t in stamps if not 20 <= t - base <= 22]  # a gap
    return MetricSeriesSet(
        prometheus_url="http://127.0.0.1:9090",
        start=at(-20),
        end=at(59),
        step_s=1.0,
        rate_window="5s",
        captured_at=at(60),
        series=[
            MetricSeries(
                key=MetricKey.ERROR_RATIO, title="Error ratio (5xx)", unit="ratio", query="q1", points=err
            ),
            MetricSeries(
                key=MetricKey.P95_LATENCY_MS, title="p95 latency", unit="ms", query="q2", points=p95
            ),
            MetricSeries(
                key=MetricKey.REQUESTS_PER_SECOND,
                title="Requests per second",
                unit="req/s",
                query="q3",
                points=rps,
            ),
        ],
        thresholds={MetricKey.ERROR_RATIO: 0.01, MetricKey.P95_LATENCY_MS: 500.0},
    )


def write_run(run_dir: Path, *, with_metrics: bool = True) -> RunResults:
    run_dir.mkdir(parents=True, exist_ok=True)
    run = RunResults(
        run_id=RUN_ID,
        started=at(-30),
        finished=at(120),
        host="ci-runner",
        drills=[failing_drill(), passing_drill()],
    )
    (run_dir / "results.json").write_text(run.model_dump_json(indent=2), encoding="utf-8")
    if with_metrics:
        drill = run.drills[0]
        sample_metrics(drill).save(metrics_path(run_dir, drill.scenario, drill.iteration))
    return run
