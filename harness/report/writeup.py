"""The incident write-up of a drill, filled in from what the drill measured.

Shape: severity, Impact, Cause, Mitigation, Recovery Validation, Follow-ups and a
post-mortem timeline in UTC. Every figure comes from the :class:`DrillResult`;
nothing is estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from harness.drill.results import DrillResult
from harness.drill.timeline import EventKind, TimelineEvent
from harness.report.charts import fmt_offset, relative
from harness.report.drill_charts import anchor_of, fault_window
from harness.report.figures import (
    DASH,
    Figure,
    Status,
    as_utc,
    drill_figures,
    failed_steps,
    fmt_seconds,
    fmt_utc,
    lost_writes_figure,
    rollback_figure,
    step_status,
    timing_figure,
)

SEVERITY_MEANING = {
    "SEV1": "complete outage or data-integrity risk",
    "SEV2": "major degradation of key workflows",
    "SEV3": "partial degradation with a workaround",
}

WHAT: dict[EventKind, str] = {
    EventKind.DRILL_STARTED: "Drill started",
    EventKind.STEADY_STATE_OK: "Steady-state check passed",
    EventKind.STEADY_STATE_FAILED: "Steady-state check failed",
    EventKind.LOAD_STARTED: "Load started",
    EventKind.FAULT_INJECTED: "Fault injected",
    EventKind.ALERT_PENDING: "Alert pending in Prometheus",
    EventKind.ALERT_FIRING: "Alert firing in Prometheus",
    EventKind.NOTIFICATION_FIRING: "Firing notification received",
    EventKind.RUNBOOK_STARTED: "Runbook started",
    EventKind.RUNBOOK_STEP: "Runbook step",
    EventKind.RUNBOOK_FINISHED: "Runbook finished",
    EventKind.RECOVERED: "Recovery criteria met",
    EventKind.FAULT_REVERTED: "Fault reverted",
    EventKind.ALERT_RESOLVED: "Alert resolved",
    EventKind.NOTIFICATION_RESOLVED: "Resolved notification received",
    EventKind.LOAD_STOPPED: "Load stopped",
    EventKind.ROLLBACK_VERIFIED: "Rollback verified",
    EventKind.AUDIT_DONE: "Data-integrity audit done",
    EventKind.STOP_CONDITION: "Stop condition hit",
    EventKind.ERROR: "Error",
    EventKind.DRILL_FINISHED: "Drill finished",
    EventKind.NOTE: "Note",
}


@dataclass(frozen=True)
class ImpactSection:
    requests_failed: int
    requests_total: int
    failure_pct: float | None
    endpoints: list[str]
    window_start: datetime | None
    window_end: datetime | None
    duration_seconds: float | None
    writes_acknowledged: int
    writes_lost: int


@dataclass(frozen=True)
class MitigationStep:
    at: str
    offset: str
    runbook: str
    step: str
    kind: str
    outcome: str
    attempts: int
    status: Status
    output: str


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    at: str
    detail: str


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    offset: str
    what: str
    detail: str
    css: str = ""


@dataclass(frozen=True)
class WriteUp:
    title: str
    severity: str
    severity_meaning: str
    verdict: str
    summary: str
    impact: ImpactSection
    cause: list[str]
    mitigation: list[MitigationStep]
    recovery_validation: list[Check]
    follow_ups: list[str]
    timeline: list[TimelineEntry] = field(default_factory=list)


def severity_key(raw: str) -> str:
    text = raw.strip().upper().replace("-", "").replace(" ", "")
    return {"P0": "SEV1", "P1": "SEV1", "P2": "SEV2", "P3": "SEV3"}.get(text, text)


def build_writeup(result: DrillResult) -> WriteUp:
    figures = {f.key: f for f in drill_figures(result)}
    return WriteUp(
        title=f"Drill {result.scenario} #{result.iteration} ({result.run_id})",
        severity=result.severity,
        severity_meaning=SEVERITY_MEANING.get(severity_key(result.severity), ""),
        verdict=result.verdict.value,
        summary=_summary(result),
        impact=_impact(result),
        cause=_cause(result),
        mitigation=_mitigation(result),
        recovery_validation=_checks(result, figures),
        follow_ups=_follow_ups(result, list(figures.values())),
        timeline=_timeline(result),
    )


def _first(result: DrillResult, kind: EventKind) -> TimelineEvent | None:
    return next((e for e in result.timeline if e.kind == kind), None)


def _summary(result: DrillResult) -> str:
    fault = _first(result, EventKind.FAULT_INJECTED)
    parts = [f"Rehearsal of {result.scenario!s}"]
    if fault is not None:
        parts.append(f"fault {result.fault or fault.detail or 'injected'} at {fmt_utc(fault.wall)}")
    parts.append(f"detected (alert firing) after {fmt_seconds(result.mttd_seconds)}")
    parts.append(f"notification after {fmt_seconds(result.mttn_seconds)}")
    if result.runbook:
        parts.append(f"runbook {result.runbook} finished after {fmt_seconds(result.mttm_seconds)}")
    parts.append(f"recovered after {fmt_seconds(result.mttr_seconds)}")
    text = "; ".join(parts) + f". Verdict: {result.verdict.value.upper()}"
    if result.reasons:
        text += " (" + "; ".join(result.reasons) + ")"
    return text + "."


def _impact(result: DrillResult) -> ImpactSection:
    imp = result.impact
    start, end = imp.window_start, imp.window_end
    window = fault_window(result)
    if start is None and window is not None:
        start = window[0]
    if end is None and window is not None:
        end = window[1]
    duration = (end - start).total_seconds() if start is not None and end is not None else None
    pct = round(100.0 * imp.requests_failed / imp.requests_total, 2) if imp.requests_total else None
    return ImpactSection(
        requests_failed=imp.requests_failed,
        requests_total=imp.requests_total,
        failure_pct=pct,
        endpoints=list(imp.affected_endpoints),
        window_start=start,
        window_end=end,
        duration_seconds=duration,
        writes_acknowledged=result.writes_acknowledged,
        writes_lost=result.writes_lost,
    )


def _cause(result: DrillResult) -> list[str]:
    lines = []
    fault = _first(result, EventKind.FAULT_INJECTED)
    if fault is None:
        lines.append(f"No fault was injected (planned fault: {result.fault or DASH}).")
    else:
        lines.append(
            f"Injected fault: {result.fault or fault.detail or 'unnamed'} (deliberate, by the drill harness)."
        )
        if fault.detail and fault.detail != result.fault:
            lines.append(f"Fault detail: {fault.detail}")
        if fault.data:
            lines.append("Fault parameters: " + ", ".join(f"{k}={v}" for k, v in fault.data.items()))
        reverted = _first(result, EventKind.FAULT_REVERTED)
        lines.append(
            f"Fault reverted at {fmt_utc(reverted.wall)}." if reverted else "Fault revert not recorded."
        )
    alert = _first(result, EventKind.ALERT_FIRING)
    if alert is not None:
        lines.append(f"Alert that fired: {alert.detail or alert.data.get('alertname', 'unnamed')}.")
    return lines


def _mitigation(result: DrillResult) -> list[MitigationStep]:
    anchor, _ = anchor_of(result)
    return [
        MitigationStep(
            at=fmt_utc(s.started, with_date=False),
            offset=fmt_offset(relative(s.started, anchor)),
            runbook=s.runbook,
            step=s.step,
            kind=s.kind,
            outcome=s.outcome,
            attempts=s.attempts,
            status=step_status(s),
            output=s.output[:500],
        )
        for s in sorted(result.steps, key=lambda s: as_utc(s.started))
    ]


def _event_check(result: DrillResult, kind: EventKind, name: str, missing: Status = Status.MISSING) -> Check:
    event = _first(result, kind)
    if event is None:
        return Check(name, missing, DASH, "not observed")
    return Check(name, Status.OK, fmt_utc(event.wall), event.detail)


def _figure_check(name: str, figure: Figure, at: TimelineEvent | None) -> Check:
    detail = f"{figure.display} (threshold {figure.limit_display})" + (
        f"; {figure.note}" if figure.note else ""
    )
    return Check(name, figure.status, fmt_utc(at.wall) if at else DASH, detail)


def _checks(result: DrillResult, figures: dict[str, Figure]) -> list[Check]:
    checks = [_event_check(result, EventKind.RECOVERED, "Recovery criteria held", Status.FAIL)]
    checks.append(
        _figure_check(
            "Recovered within the MTTR threshold",
            figures["mttr_seconds"],
            _first(result, EventKind.RECOVERED),
        )
    )
    fault = _first(result, EventKind.FAULT_INJECTED)
    if result.mttr_user_seconds is not None:
        user = timing_figure("mttr_user_seconds", "user-seen MTTR", result.mttr_user_seconds, None)
        when = DASH if fault is None else fmt_utc(fault.wall + timedelta(seconds=result.mttr_user_seconds))
        checks.append(
            Check("Users saw recovery (load generator)", Status.INFO, when, f"{user.display} after the fault")
        )
    checks.append(_event_check(result, EventKind.ALERT_RESOLVED, "Alert resolved"))
    checks.append(_event_check(result, EventKind.NOTIFICATION_RESOLVED, "Resolved notification received"))
    after = [
        e
        for e in result.timeline
        if fault is not None
        and relative(e.wall, fault.wall) >= 0
        and e.kind in (EventKind.STEADY_STATE_OK, EventKind.STEADY_STATE_FAILED)
    ]
    if after:
        last = after[-1]
        status = Status.OK if last.kind == EventKind.STEADY_STATE_OK else Status.FAIL
        checks.append(Check("Steady state after the drill", status, fmt_utc(last.wall), last.detail))
    checks.append(
        _figure_check(
            "Rollback complete", rollback_figure(result), _first(result, EventKind.ROLLBACK_VERIFIED)
        )
    )
    checks.append(
        _figure_check(
            "No acknowledged write lost", lost_writes_figure(result), _first(result, EventKind.AUDIT_DONE)
        )
    )
    return checks


def _follow_ups(result: DrillResult, figures: list[Figure]) -> list[str]:
    items = []
    for f in figures:
        if f.status is Status.FAIL:
            items.append(
                f"Threshold breached — {f.label}: {f.display} (threshold {f.limit_display}); {f.note}."
            )
        elif f.status is Status.MISSING:
            items.append(
                f"Not measured — {f.label} (threshold {f.limit_display}): find out why it is missing."
            )
    for s in failed_steps(result):
        excerpt = f": {s.output[:200]}" if s.output else ""
        items.append(
            f"Step failed — {s.runbook} / {s.step} ({s.kind}) ended {s.outcome!r} "
            f"after {s.attempts} attempt(s){excerpt}"
        )
    if result.lost_write_ids:
        shown = ", ".join(result.lost_write_ids[:5])
        more = f" and {len(result.lost_write_ids) - 5} more" if len(result.lost_write_ids) > 5 else ""
        items.append(f"Lost acknowledged writes to investigate: {shown}{more}.")
    for e in result.timeline:
        if e.kind in (EventKind.ERROR, EventKind.STOP_CONDITION):
            items.append(f"{WHAT[e.kind]} at {fmt_utc(e.wall)}: {e.detail or DASH}")
    if not items:
        items.append(
            f"No threshold breached and every step succeeded; keep the {result.schedule} drill "
            "and tighten thresholds if the margin is large."
        )
    return items


def _timeline(result: DrillResult) -> list[TimelineEntry]:
    anchor, _ = anchor_of(result)
    rows: list[tuple[datetime, TimelineEntry]] = []
    has_step_events = any(e.kind == EventKind.RUNBOOK_STEP for e in result.timeline)
    for e in result.timeline:
        css = (
            "fail"
            if e.kind in (EventKind.ERROR, EventKind.STOP_CONDITION, EventKind.STEADY_STATE_FAILED)
            else ""
        )
        rows.append(
            (
                e.wall,
                TimelineEntry(
                    fmt_utc(e.wall, with_date=False),
                    fmt_offset(relative(e.wall, anchor)),
                    WHAT[e.kind],
                    e.detail,
                    css,
                ),
            )
        )
    if not has_step_events:
        for s in result.steps:
            css = "fail" if step_status(s) is Status.FAIL else ""
            rows.append(
                (
                    s.started,
                    TimelineEntry(
                        fmt_utc(s.started, with_date=False),
                        fmt_offset(relative(s.started, anchor)),
                        "Runbook step",
                        f"{s.runbook} / {s.step}: {s.outcome}",
                        css,
                    ),
                )
            )
    rows.sort(key=lambda r: as_utc(r[0]))
    return [entry for _, entry in rows]
