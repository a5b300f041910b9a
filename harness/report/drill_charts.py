"""The report's charts: a drill's timeline, its metric charts, and the per-scenario trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from harness.drill.results import DrillResult
from harness.drill.timeline import EventKind, TimelineEvent
from harness.report.charts import (
    Band,
    Box,
    EventLine,
    LegendItem,
    LineChart,
    Rule,
    Scale,
    SeriesInput,
    Threshold,
    Tick,
    fmt_offset,
    line_chart,
    nice_ticks,
    relative,
)
from harness.report.figures import Status, as_utc, fmt_seconds, fmt_utc, step_status
from harness.report.metrics import MetricKey, MetricSeriesSet

LANES: dict[EventKind, str] = {
    EventKind.FAULT_INJECTED: "Fault",
    EventKind.FAULT_REVERTED: "Fault",
    EventKind.ALERT_PENDING: "Alert",
    EventKind.ALERT_FIRING: "Alert",
    EventKind.ALERT_RESOLVED: "Alert",
    EventKind.NOTIFICATION_FIRING: "Notification",
    EventKind.NOTIFICATION_RESOLVED: "Notification",
    EventKind.RUNBOOK_STARTED: "Runbook",
    EventKind.RUNBOOK_STEP: "Runbook",
    EventKind.RUNBOOK_FINISHED: "Runbook",
    EventKind.RECOVERED: "Recovery",
    EventKind.ROLLBACK_VERIFIED: "Recovery",
    EventKind.AUDIT_DONE: "Recovery",
}
LANE_ORDER = ["Drill", "Fault", "Alert", "Notification", "Runbook", "Recovery"]

SHORT: dict[EventKind, str] = {
    EventKind.DRILL_STARTED: "start",
    EventKind.LOAD_STARTED: "load on",
    EventKind.FAULT_INJECTED: "fault injected",
    EventKind.FAULT_REVERTED: "fault reverted",
    EventKind.ALERT_PENDING: "pending",
    EventKind.ALERT_FIRING: "firing",
    EventKind.ALERT_RESOLVED: "resolved",
    EventKind.NOTIFICATION_FIRING: "notified",
    EventKind.NOTIFICATION_RESOLVED: "resolved",
    EventKind.RUNBOOK_STARTED: "runbook start",
    EventKind.RUNBOOK_FINISHED: "runbook done",
    EventKind.RECOVERED: "recovered",
    EventKind.ROLLBACK_VERIFIED: "rollback verified",
    EventKind.STOP_CONDITION: "stop condition",
    EventKind.ERROR: "error",
    EventKind.DRILL_FINISHED: "end",
}
MAX_STEP_ROWS = 12
DISPLAY: dict[str, tuple[float, str]] = {
    MetricKey.ERROR_RATIO: (100.0, "%"),
    MetricKey.P95_LATENCY_MS: (1.0, "ms"),
    MetricKey.REQUESTS_PER_SECOND: (1.0, "req/s"),
}


@dataclass(frozen=True)
class Lane:
    label: str
    title: str
    y: float
    bottom: float


@dataclass(frozen=True)
class Mark:
    """An event dot on its lane, with an optional short label above or below it."""

    x: float
    y: float
    title: str
    css: str
    label: str
    label_y: float


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    title: str
    css: str
    label: str
    label_x: float


@dataclass
class TimelineChart:
    width: int
    height: int
    box: Box
    lanes: list[Lane] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)


def anchor_of(result: DrillResult) -> tuple[datetime, str]:
    """The time axis origin: the fault injection if there was one, else the drill start."""
    fault = _first(result.timeline, EventKind.FAULT_INJECTED)
    if fault is not None:
        return fault.wall, "seconds from fault injection"
    return result.started, "seconds from drill start"


def fault_window(result: DrillResult) -> tuple[datetime, datetime] | None:
    fault = _first(result.timeline, EventKind.FAULT_INJECTED)
    if fault is None:
        return None
    reverted = _first(result.timeline, EventKind.FAULT_REVERTED)
    return fault.wall, reverted.wall if reverted is not None else result.finished


def _first(events: Sequence[TimelineEvent], kind: EventKind) -> TimelineEvent | None:
    return next((e for e in events if e.kind == kind), None)


def _limit_lines(result: DrillResult) -> list[EventLine]:
    if _first(result.timeline, EventKind.FAULT_INJECTED) is None:
        return []
    t = result.thresholds
    lines = []
    if t.max_mttd_seconds is not None:
        lines.append(
            EventLine(t.max_mttd_seconds, f"MTTD limit {fmt_seconds(t.max_mttd_seconds)}", "rule-limit")
        )
    if t.max_mttr_seconds is not None:
        lines.append(
            EventLine(t.max_mttr_seconds, f"MTTR limit {fmt_seconds(t.max_mttr_seconds)}", "rule-limit")
        )
    return lines


def timeline_chart(result: DrillResult, width: int = 960) -> TimelineChart:
    anchor, _ = anchor_of(result)
    steps = sorted(result.steps, key=lambda s: as_utc(s.started))
    step_rows = steps[:MAX_STEP_ROWS]
    lane_names = [*LANE_ORDER, *(f"step {i + 1}" for i in range(len(step_rows)))]
    heights = [40.0 if name in LANE_ORDER else 26.0 for name in lane_names]
    box = Box(left=200, top=34, right=width - 24, bottom=34 + sum(heights))
    chart = TimelineChart(width=width, height=int(box.bottom + 44), box=box)
    events = [e for e in result.timeline if not (steps and e.kind == EventKind.RUNBOOK_STEP)]
    times = [relative(e.wall, anchor) for e in events]
    for s in steps:
        times.append(relative(s.started, anchor))
        times.append(relative(s.finished or s.started, anchor))
    if not times:
        times = [0.0, relative(result.finished, anchor)]
    limits = _limit_lines(result)
    lo, hi = min(times), max(times + [line.x for line in limits])
    pad = max((hi - lo) * 0.03, 0.5)
    sx = Scale(lo - pad, hi + pad, box.left, box.right)
    lane_y = {name: box.top + sum(heights[:i]) + heights[i] / 2 for i, name in enumerate(lane_names)}
    for name in LANE_ORDER:
        chart.lanes.append(Lane(name, name, lane_y[name], lane_y[name] + 20))
    chart.x_ticks = [
        Tick(sx(x), fmt_offset(x)) for x in nice_ticks(lo - pad, hi + pad, 10) if lo - pad <= x <= hi + pad
    ]
    window = fault_window(result)
    if window is not None:
        chart.bands.append(
            Band(sx(relative(window[0], anchor)), sx(relative(window[1], anchor)), "fault window")
        )
    for line in limits:
        x = sx(line.x)
        chart.rules.append(Rule(x, box.top, x, box.bottom, line.label, line.css, x + 3, box.top - 6))
    flip: dict[str, int] = {}
    for event in events:
        lane = LANES.get(event.kind, "Drill")
        label = SHORT.get(event.kind, "")
        if event.kind == EventKind.RUNBOOK_STEP:
            label = str(event.data.get("step", event.detail))[:24]
        n = flip.get(lane, 0)
        flip[lane] = n + 1 if label else n
        dy = -9 if n % 2 == 0 else 16
        offset = relative(event.wall, anchor)
        title = f"{event.kind.value} at {fmt_utc(event.wall)} ({fmt_offset(offset)})"
        if event.detail:
            title += f": {event.detail}"
        css = f"ev ev-{event.kind.value}"
        if event.kind in (EventKind.ERROR, EventKind.STOP_CONDITION, EventKind.STEADY_STATE_FAILED):
            css += " fail"
        chart.marks.append(Mark(sx(offset), lane_y[lane], title, css, label, lane_y[lane] + dy))
    for i, step in enumerate(steps):
        row = f"step {min(i, MAX_STEP_ROWS - 1) + 1}"
        if i < MAX_STEP_ROWS - 1 or len(steps) <= MAX_STEP_ROWS:
            chart.lanes.append(
                Lane(
                    _clip(step.step, 26),
                    f"{step.runbook}: {step.step} ({step.kind})",
                    lane_y[row],
                    lane_y[row] + 13,
                )
            )
        elif i == MAX_STEP_ROWS - 1:
            chart.lanes.append(
                Lane(f"… {len(steps) - i} more steps", "later steps", lane_y[row], lane_y[row] + 13)
            )
        x0 = sx(relative(step.started, anchor))
        x1 = sx(relative(step.finished or step.started, anchor))
        status = step_status(step)
        marker = {Status.OK: "✓", Status.FAIL: "✗"}.get(status, "\u2013")  # en dash: skipped
        title = (
            f"{step.runbook}: {step.step} ({step.kind}) — {step.outcome}, attempts {step.attempts}, "
            f"started {fmt_utc(step.started)}"
            + (f", finished {fmt_utc(step.finished)}" if step.finished else "")
        )
        w = max(x1 - x0, 3.0)
        chart.bars.append(
            Bar(
                x0,
                lane_y[row] - 8,
                w,
                16,
                title,
                f"bar step-{status.value}",
                f"{marker} {step.outcome}",
                x0 + w + 4,
            )
        )
    chart.legend = [
        LegendItem("fault window", "band-fault"),
        LegendItem("threshold deadline", "rule-limit"),
        LegendItem("✓ step ok", "step-ok"),
        LegendItem("✗ step failed", "step-fail"),
    ]
    return chart


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def metric_charts(result: DrillResult, metrics: MetricSeriesSet) -> list[LineChart]:
    """Error ratio, p95 latency and requests/s over the drill, fault window shaded, thresholds drawn."""
    anchor, x_label = anchor_of(result)
    domain = (relative(metrics.start, anchor), relative(metrics.end, anchor))
    window = fault_window(result)
    bands = (
        [] if window is None else [(relative(window[0], anchor), relative(window[1], anchor), "fault window")]
    )
    events = [
        EventLine(relative(e.wall, anchor), SHORT[e.kind])
        for kind in (EventKind.ALERT_FIRING, EventKind.RECOVERED)
        if (e := _first(result.timeline, kind)) is not None
    ]
    charts = []
    for key in MetricKey:
        scale, unit = DISPLAY[key]
        found = metrics.for_key(key)
        title = found[0].title if found else key.value
        series = []
        for i, s in enumerate(found):
            label = ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or title
            pts = [(stamp - as_utc(anchor).timestamp(), value * scale) for stamp, value in s.points]
            series.append(SeriesInput(label, pts, f"s-{i % 4}"))
        thresholds = []
        if key in metrics.thresholds:
            limit = metrics.thresholds[key] * scale
            thresholds.append(Threshold(limit, f"threshold {limit:g} {unit}"))
        chart = line_chart(
            f"{title} ({unit})",
            unit,
            series,
            x_domain=domain,
            bands=bands,
            thresholds=thresholds,
            events=events,
            gap=metrics.step_s * 1.5,
            x_label=x_label,
            width=960,
        )
        if not found:
            chart.note = "Prometheus returned no series for this query."
        charts.append(chart)
    return charts


def trend_chart(scenario: str, results: Sequence[DrillResult]) -> LineChart:
    """MTTD and MTTR of one scenario over its runs (oldest first), with the latest thresholds."""
    runs = sorted(results, key=lambda r: as_utc(r.started))
    labels: dict[float, str] = {}
    every = max(1, -(-len(runs) // 6))
    for i, r in enumerate(runs):
        if (len(runs) - 1 - i) % every == 0:  # always label the latest run
            labels[float(i)] = f"{r.started:%m-%d %H:%M}"
    series = []
    latest = runs[-1].thresholds if runs else None
    for name, css, attr, limit_attr in (
        ("MTTD", "s-mttd", "mttd_seconds", "max_mttd_seconds"),
        ("MTTR", "s-mttr", "mttr_seconds", "max_mttr_seconds"),
    ):
        pts, titles, failing = [], [], []
        for i, r in enumerate(runs):
            value: float | None = getattr(r, attr)
            if value is None:
                continue
            limit: float | None = getattr(r.thresholds, limit_attr)
            over = limit is not None and value > limit
            pts.append((float(i), value))
            failing.append(over)
            titles.append(
                f"{r.run_id} #{r.iteration} ({r.started:%Y-%m-%d %H:%M} UTC): {name} {fmt_seconds(value)}"
                + (f", limit {fmt_seconds(limit)}" if limit is not None else "")
                + (" ✗ over limit" if over else "")
            )
        series.append(SeriesInput(name, pts, css, titles, failing))
    thresholds = []
    if latest is not None:
        if latest.max_mttd_seconds is not None:
            thresholds.append(
                Threshold(latest.max_mttd_seconds, f"MTTD limit {fmt_seconds(latest.max_mttd_seconds)}")
            )
        if latest.max_mttr_seconds is not None:
            thresholds.append(
                Threshold(latest.max_mttr_seconds, f"MTTR limit {fmt_seconds(latest.max_mttr_seconds)}")
            )
    chart = line_chart(
        f"{scenario}: MTTD and MTTR per run (s)",
        "s",
        series,
        x_domain=(-0.5, max(len(runs), 1) - 0.5),
        x_tick_labels=labels,
        thresholds=thresholds,
        gap=1.5,
        x_label="run (UTC start time)",
        width=960,
        height=280,
    )
    return chart
