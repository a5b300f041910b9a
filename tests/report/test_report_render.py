"""Render a run with a failing and a passing drill and read the pages back with html.parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_html import Node, parse
from report_samples import SCRIPT_LABEL, TITLE_SCRIPT, passing_drill

from harness.drill.results import DrillResult, RunResults, Verdict
from harness.errors import ConfigError
from harness.report.figures import fmt_seconds
from harness.report.render import load_run, page_name, render_run, render_trend


def _page(path: Path) -> Node:
    return parse(path.read_text(encoding="utf-8"))


def _cell(row: Node, key: str) -> Node:
    return row.find("td", data_figure=key)


def test_index_has_one_row_per_drill_with_failing_figures_marked(run_dir: Path, run: RunResults) -> None:
    index = render_run(run_dir)
    assert index == run_dir.resolve() / "index.html"
    doc = _page(index)
    rows = doc.find("table", id="drills").find_all("tr", pred=lambda n: "drill" in n.classes)
    assert [r.attrs["data-scenario"] for r in rows] == [d.scenario for d in run.drills]

    failing, passing = rows
    assert failing.find("td", data_verdict="fail").text().strip().endswith("FAIL")
    assert passing.find("td", data_verdict="pass").text().strip().endswith("PASS")
    for key in ("mttd_seconds", "mttr_seconds", "rollback_ok", "writes_lost"):
        cell = _cell(failing, key)
        assert "fail" in cell.classes, key
        assert "✗" in cell.text() and "FAILED" in cell.text(), key  # visible marker, not colour only
    assert "fail" not in _cell(failing, "mttn_seconds").classes  # 9.1 s within the 15 s limit
    assert "8.2 s" in _cell(failing, "mttd_seconds").text()
    assert "≤ 5.0 s" in _cell(failing, "mttd_seconds").text()
    for key in ("mttd_seconds", "mttr_seconds", "rollback_ok", "writes_lost"):
        cell = _cell(passing, key)
        assert "ok" in cell.classes and "✓" in cell.text(), key
    # the passing drill has no MTTN: shown as a dash, not judged
    assert _cell(passing, "mttn_seconds").text().strip() == "4.6 s"
    link = failing.find("a")
    assert (run_dir / link.attrs["href"]).is_file()


def test_none_figures_are_dashes(reports_dir: Path, run: RunResults) -> None:
    drill = passing_drill().model_copy(
        update={"mttd_seconds": None, "mttr_seconds": None, "rollback_ok": None}
    )
    run_dir = reports_dir / "r2"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(run.model_copy(update={"drills": [drill]}).model_dump_json())
    row = _page(render_run(run_dir)).find("tr", data_scenario="bad-rules-deploy")
    for key in ("mttd_seconds", "mttr_seconds", "rollback_ok"):
        cell = _cell(row, key)
        assert cell.text().strip().startswith("? —"), cell.text()
        assert "missing" in cell.classes


def test_drill_page_sections(run_dir: Path, run: RunResults) -> None:
    render_run(run_dir)
    failing = run.drills[0]
    doc = _page(run_dir / page_name(failing))
    assert doc.find("title").text() == "redis-loss #1 — FAIL"
    timeline_svg = doc.find("svg", cls="timeline-chart")
    assert len(timeline_svg.find_all("circle")) >= len(failing.timeline) - 4  # step events drawn as bars
    assert len(timeline_svg.find_all("rect", pred=lambda n: "bar" in n.classes)) == len(failing.steps)
    lanes = [
        t.text().strip() for t in timeline_svg.find_all("text", pred=lambda n: "lane-label" in n.classes)
    ]
    for lane in ("Fault", "Alert", "Notification", "Runbook", "Recovery", "enable-cache-bypass"):
        assert any(lane in label for label in lanes), lane
    charts = doc.find_all("svg", cls="line-chart")
    assert len(charts) == 3
    for chart in charts:
        assert chart.find_all("polyline"), chart.find("title").text()
        assert chart.find_all("rect", cls="band-fault")  # fault window shaded
    thresholds = [t.text() for c in charts for t in c.find_all("text", cls="rule-threshold")]
    assert thresholds == ["threshold 1 %", "threshold 500 ms"]
    steps = doc.find("table", id="steps").find_all("tr", pred=lambda n: "step" in n.classes)
    assert [r.find_all("td")[3].text() for r in steps] == [s.step for s in failing.steps]
    outcomes = [r.find("td", data_outcome="failed") for r in steps if "fail" in r.classes]
    assert len(outcomes) == 1 and "✗" in outcomes[0].text()
    load_rows = doc.find("table", id="load").find_all("tr", pred=lambda n: "data-phase" in n.attrs)
    assert [r.attrs["data-phase"] for r in load_rows] == ["before", "during", "after"]
    assert "19.25 %" in load_rows[1].text()
    raw = doc.find("table", id="raw-timeline").find_all("tr")
    assert len(raw) == len(failing.timeline) + 1


def test_html_in_labels_and_outputs_is_text(run_dir: Path) -> None:
    render_run(run_dir)
    for page in run_dir.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html.lower(), page.name
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), (
            page.name
        )  # offline: no external refs
    html = (run_dir / "redis-loss-1.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    doc = parse(html)
    assert SCRIPT_LABEL in doc.text()  # shown as text, in the write-up, the timeline and the SVG tooltips
    assert TITLE_SCRIPT in doc.find("table", id="steps").text()
    svg_titles = [t.text() for t in doc.find("svg", cls="timeline-chart").find_all("title")]
    assert any(SCRIPT_LABEL in t for t in svg_titles)


def test_missing_metrics_file_gives_a_note(run_dir: Path, run: RunResults) -> None:
    render_run(run_dir)
    doc = _page(run_dir / page_name(run.drills[1]))
    assert "No metrics file" in doc.find("p", id="metrics-missing").text()
    assert not doc.find_all("svg", cls="line-chart")
    assert doc.find_all("svg", cls="timeline-chart")


def test_corrupt_metrics_file_gives_a_note(run_dir: Path, run: RunResults) -> None:
    (run_dir / "redis-loss-1.metrics.json").write_text('{"series": 3}')
    render_run(run_dir)
    doc = _page(run_dir / page_name(run.drills[0]))
    assert "could not be read" in doc.find("p", id="metrics-missing").text()


def test_writeup_figures_equal_results_json(run_dir: Path) -> None:
    """Every figure in each drill's write-up is the one results.json holds for that drill."""
    render_run(run_dir)
    results = RunResults.model_validate_json((run_dir / "results.json").read_bytes())
    for drill in results.drills:
        writeup = _page(run_dir / page_name(drill)).find("section", id="writeup")
        figures = {
            n.attrs["data-figure"]: n for n in writeup.find_all(pred=lambda n: "data-figure" in n.attrs)
        }
        assert int(figures["requests_failed"].attrs["data-value"]) == drill.impact.requests_failed
        assert int(figures["requests_total"].attrs["data-value"]) == drill.impact.requests_total
        assert int(figures["writes_lost"].attrs["data-value"]) == drill.writes_lost
        for key in ("mttd_seconds", "mttn_seconds", "mttr_seconds"):
            value: float | None = getattr(drill, key)
            assert figures[key].attrs["data-value"] == ("" if value is None else str(value)), key
            assert figures[key].text() == fmt_seconds(value), key
        assert figures["endpoints"].text() == ", ".join(drill.impact.affected_endpoints)
        assert figures["severity"].text().startswith(drill.severity)
        steps = writeup.find("ol", id="writeup-mitigation").find_all("li")
        assert [(s.attrs["data-step"], s.attrs["data-outcome"]) for s in steps] == [
            (s.step, s.outcome) for s in drill.steps
        ]
        followups = writeup.find("ul", id="writeup-followups").text()
        if drill.verdict is Verdict.FAIL:
            assert f"MTTR: {fmt_seconds(drill.mttr_seconds)}" in followups
            assert "enable-cache-bypass" in followups
        markdown = (run_dir / f"{drill.scenario}-{drill.iteration}.writeup.md").read_text(encoding="utf-8")
        assert (
            f"Requests failed: {drill.impact.requests_failed:,} of {drill.impact.requests_total:,}"
            in markdown
        )


def test_invalid_results_json_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"run_id": "x", "started": "yesterday", "typo": 1}')
    with pytest.raises(ConfigError) as info:
        load_run(tmp_path)
    assert any("started" in p for p in info.value.problems)
    assert any("typo" in p for p in info.value.problems)
    with pytest.raises(ConfigError, match=r"no results\.json"):
        load_run(tmp_path / "nowhere")


def test_trend_page_from_history(reports_dir: Path, run: RunResults) -> None:
    lines = []
    for i in range(4):
        for drill in run.drills:
            mttr = None if i == 2 else (drill.mttr_seconds or 0) + i
            lines.append(
                drill.model_copy(update={"run_id": f"run{i}", "mttr_seconds": mttr}).model_dump_json()
            )
    lines.insert(1, '{"not": "a drill"}')
    (reports_dir / "history.jsonl").write_text("\n".join(lines) + "\n\n")
    doc = _page(render_trend(reports_dir))
    sections = doc.find_all("section", cls="scenario")
    assert sorted(s.attrs["data-scenario"] for s in sections) == ["bad-rules-deploy", "redis-loss"]
    assert "history.jsonl:2" in doc.find("div", cls="missing-data").text()
    redis = next(s for s in sections if s.attrs["data-scenario"] == "redis-loss")
    svg = redis.find("svg")
    assert len(svg.find_all("polyline")) >= 3  # MTTD, and MTTR split around the run without a value
    limits = [t.text() for t in svg.find_all("text", cls="rule-threshold")]
    assert limits == ["MTTD limit 5.0 s", "MTTR limit 30.0 s"]
    failing_points = svg.find_all("circle", pred=lambda n: "fail" in n.classes)
    assert len(failing_points) == 4 + 3  # MTTD 8.2 > 5 in all runs, MTTR > 30 in the three measured
    rows = redis.find("table").find_all("tr")[1:]
    assert len(rows) == 4


def test_trend_without_history(reports_dir: Path) -> None:
    doc = _page(render_trend(reports_dir))
    assert "No drill history yet" in doc.text()


def _drill(**update: object) -> DrillResult:
    return passing_drill().model_copy(update=update)


def test_unsafe_scenario_names_make_safe_page_names(reports_dir: Path, run: RunResults) -> None:
    drill = _drill(scenario="../../etc/<x> y", iteration=3)
    run_dir = reports_dir / "r3"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(run.model_copy(update={"drills": [drill]}).model_dump_json())
    render_run(run_dir)
    pages = sorted(p.name for p in run_dir.iterdir() if p.suffix == ".html")
    assert len(pages) == 2 and "index.html" in pages
    assert all("/" not in p and "<" not in p and " " not in p for p in pages)
    assert not list(reports_dir.parent.glob("etc*"))


def test_error_drill_without_timeline_and_naive_times(reports_dir: Path) -> None:
    """A drill that errored before injecting anything still gets a page; naive times are read as UTC."""
    run_dir = reports_dir / "r4"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(
        '{"run_id": "r4", "started": "2026-03-14T09:00:00", "drills": [{"scenario": "oom-kill",'
        ' "run_id": "r4", "verdict": "error", "reasons": ["stack did not start"],'
        ' "started": "2026-03-14T09:00:00", "finished": "2026-03-14T09:00:05+00:00",'
        ' "timeline": [{"kind": "error", "wall": "2026-03-14T09:00:04", "mono": 4.0,'
        ' "detail": "postgres <b>down</b>"}]}]}'
    )
    (reports_dir / "history.jsonl").write_text(
        (run_dir / "results.json").read_text().split('"drills": [')[1][:-2]
    )
    render_trend(reports_dir)
    row = _page(render_run(run_dir)).find("tr", data_scenario="oom-kill")
    assert row.find("td", data_verdict="error").text().strip() == "✗ ERROR"
    assert "fail" in row.classes
    doc = _page(run_dir / "oom-kill-1.html")
    assert "No fault was injected" in doc.find("ul", id="writeup-cause").text()
    assert "postgres <b>down</b>" in doc.find("ul", id="writeup-followups").text()
    assert doc.find("svg", cls="timeline-chart").find_all("circle")
