"""Chart geometry: ticks, gaps, thresholds, the timeline's lanes."""

from __future__ import annotations

from report_samples import failing_drill, passing_drill, sample_metrics

from harness.report.charts import SeriesInput, Threshold, fmt_offset, line_chart, nice_ticks
from harness.report.drill_charts import MAX_STEP_ROWS, metric_charts, timeline_chart


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0, 52) == [0, 20, 40, 60]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-21, 58, 8)[0] <= -21 and nice_ticks(-21, 58, 8)[-1] >= 58
    assert nice_ticks(3, 3) == [3, 3.2, 3.4, 3.6, 3.8, 4.0]
    assert nice_ticks(float("nan"), 1) == []


def test_fmt_offset() -> None:
    assert fmt_offset(0) == "T+0s"
    assert fmt_offset(8.2) == "T+8.2s"
    assert fmt_offset(-20) == "T\u221220s"
    assert fmt_offset(125.4) == "T+125s"


def test_line_chart_splits_at_gaps_and_keeps_points_inside_the_box() -> None:
    pts = [(float(x), float(x * x)) for x in range(10) if x not in (4, 5)]
    chart = line_chart(
        "t", "u", [SeriesInput("s", pts, "s-0")], thresholds=[Threshold(90.0, "limit")], gap=1.5
    )
    assert len(chart.lines) == 2
    assert chart.point_count == len(pts)
    for line in chart.lines:
        for pair in line.points.split():
            x, y = map(float, pair.split(","))
            assert chart.box.left <= x <= chart.box.right
            assert chart.box.top <= y <= chart.box.bottom
    assert [r.label for r in chart.rules] == ["limit"]
    assert len(chart.markers) == len(pts)


def test_empty_series_says_so() -> None:
    chart = line_chart("t", "u", [], x_domain=(0, 10))
    assert chart.note and not chart.lines


def test_timeline_chart_lanes_bars_and_deadlines() -> None:
    drill = failing_drill()
    chart = timeline_chart(drill)
    assert len(chart.bars) == len(drill.steps)
    assert [b.css for b in chart.bars].count("bar step-fail") == 1
    assert [r.label for r in chart.rules] == ["MTTD limit 5.0 s", "MTTR limit 30.0 s"]
    assert len(chart.bands) == 1 and chart.bands[0].x0 < chart.bands[0].x1
    labels = {m.label for m in chart.marks}
    assert {
        "fault injected",
        "pending",
        "firing",
        "notified",
        "recovered",
        "resolved",
        "rollback verified",
    } <= labels
    xs = {m.label: m.x for m in chart.marks if m.label}
    assert xs["fault injected"] < xs["firing"] < xs["recovered"]


def test_timeline_chart_caps_step_rows() -> None:
    drill = passing_drill()
    many = [drill.steps[0].model_copy(update={"step": f"s{i}"}) for i in range(MAX_STEP_ROWS + 5)]
    chart = timeline_chart(drill.model_copy(update={"steps": many}))
    step_lanes = [
        lane
        for lane in chart.lanes
        if lane.label not in ("Drill", "Fault", "Alert", "Notification", "Runbook", "Recovery")
    ]
    assert len(step_lanes) == MAX_STEP_ROWS
    assert step_lanes[-1].label.startswith("… 6 more")
    assert len(chart.bars) == len(many)


def test_metric_charts_scale_and_thresholds() -> None:
    drill = failing_drill()
    charts = metric_charts(drill, sample_metrics(drill))
    assert [c.title for c in charts] == [
        "Error ratio (5xx) (%)",
        "p95 latency (ms)",
        "Requests per second (req/s)",
    ]
    assert [r.label for r in charts[0].rules if r.css == "rule-threshold"] == ["threshold 1 %"]
    assert float(charts[0].y_ticks[-1].label) >= 19.0  # 0.19 shown as 19 %
    assert len(charts[2].lines) == 2  # the gap in requests/s splits the line
    empty = sample_metrics(drill).model_copy(update={"series": []})
    charts = metric_charts(drill, empty)
    assert all(c.note for c in charts)
