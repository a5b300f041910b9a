"""Render a run's HTML report (index + one page per drill) and the trend page.

Pages are self-contained: CSS inlined from ``static/report.css``, charts as inline
SVG, no scripts and no external URLs. Every template is autoescaped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import ValidationError

from harness.clock import SYSTEM_CLOCK, Clock
from harness.drill.results import DrillResult, RunResults, Verdict
from harness.drill.timeline import TimelineEvent
from harness.errors import ConfigError
from harness.report.charts import LineChart, fmt_offset, relative
from harness.report.drill_charts import anchor_of, metric_charts, timeline_chart, trend_chart
from harness.report.figures import (
    Figure,
    as_utc,
    drill_figures,
    extra_figures,
    fmt_number,
    fmt_seconds,
    fmt_utc,
    timing_figure,
)
from harness.report.history import HISTORY_FILE, read_history
from harness.report.markdown import writeup_markdown
from harness.report.metrics import MetricSeriesSet, file_stem, metrics_path
from harness.report.writeup import build_writeup

RESULTS_FILE = "results.json"
INDEX_FILE = "index.html"
TREND_FILE = "trend.html"


@cache
def environment() -> Environment:
    templates = Path(str(resources.files("harness.report") / "templates"))
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html", "j2"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(fmt_utc=fmt_utc, fmt_seconds=fmt_seconds, fmt_number=fmt_number)
    return env


@cache
def _css() -> Markup:
    # Trusted package data (ours, not user input), inlined as-is: escaping would break CSS.
    text = (resources.files("harness.report") / "static" / "report.css").read_text(encoding="utf-8")
    return Markup(text.replace("</", "<\\/"))


def page_name(result: DrillResult) -> str:
    """``<scenario>-<iteration>.html``, made safe as a file name."""
    return f"{file_stem(result.scenario, result.iteration)}.html"


def load_run(run_dir: Path) -> RunResults:
    path = run_dir / RESULTS_FILE
    try:
        return RunResults.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no results.json in this run directory") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except ValidationError as exc:
        problems = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid results file", problems) from exc


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _common(clock: Clock) -> dict[str, object]:
    return {"css": _css(), "generated": fmt_utc(clock.now())}


@dataclass(frozen=True)
class IndexRow:
    result: DrillResult
    page: str
    figures: list[Figure]

    @property
    def failing(self) -> bool:
        return self.result.verdict is not Verdict.PASS or any(f.failing for f in self.figures)


@dataclass(frozen=True)
class RawEvent:
    event: TimelineEvent
    offset: str


@dataclass(frozen=True)
class EndpointRow:
    phase: str
    endpoint: str
    values: dict[str, float]


def _load_metrics(run_dir: Path, result: DrillResult) -> tuple[MetricSeriesSet | None, str]:
    candidates = [
        metrics_path(run_dir, result.scenario, result.iteration),
        run_dir / f"{result.scenario}-{result.iteration}.metrics.json",
    ]
    for path in candidates:
        if path.parent == run_dir and path.is_file():
            try:
                return MetricSeriesSet.load(path), ""
            except ConfigError as exc:
                return None, f"The metrics file {path.name} could not be read ({exc}); no metric charts."
    return None, (
        f"No metrics file ({candidates[0].name}) was captured for this drill, so there are no "
        "error-ratio, p95-latency or requests/s charts. The figures above come from results.json."
    )


def render_drill(
    result: DrillResult, run_dir: Path, *, trend_link: str | None = None, clock: Clock = SYSTEM_CLOCK
) -> Path:
    """Write ``<scenario>-<iteration>.html`` (and ``.writeup.md``) into ``run_dir``."""
    anchor, x_label = anchor_of(result)
    metrics, metrics_note = _load_metrics(run_dir, result)
    charts: list[LineChart] = metric_charts(result, metrics) if metrics is not None else []
    writeup = build_writeup(result)
    markdown = writeup_markdown(writeup)
    endpoint_rows = [
        EndpointRow(p.phase, name, vals) for p in result.load for name, vals in sorted(p.endpoints.items())
    ]
    endpoint_keys = sorted({k for row in endpoint_rows for k in row.values})
    html = (
        environment()
        .get_template("drill.html.j2")
        .render(
            **_common(clock),
            r=result,
            figures=drill_figures(result),
            extra=extra_figures(result),
            timeline=timeline_chart(result),
            x_label=x_label,
            metrics=metrics,
            metric_charts=charts,
            metrics_note=metrics_note,
            writeup=writeup,
            markdown=markdown,
            endpoint_rows=endpoint_rows,
            endpoint_keys=endpoint_keys,
            raw_events=[RawEvent(e, fmt_offset(relative(e.wall, anchor))) for e in result.timeline],
            trend_link=trend_link,
        )
    )
    stem = file_stem(result.scenario, result.iteration)
    _write(run_dir / f"{stem}.writeup.md", markdown)
    return _write(run_dir / page_name(result), html)


def render_run(run_dir: Path, *, clock: Clock = SYSTEM_CLOCK) -> Path:
    """Render every drill page and ``index.html`` from ``run_dir/results.json``; return the index path."""
    run_dir = run_dir.resolve()
    run = load_run(run_dir)
    trend = run_dir.parent / TREND_FILE
    trend_link = f"../{TREND_FILE}" if trend.exists() or (run_dir.parent / HISTORY_FILE).exists() else None
    rows = []
    for result in run.drills:
        page = render_drill(result, run_dir, trend_link=trend_link, clock=clock)
        rows.append(IndexRow(result, page.name, drill_figures(result)))
    counts = {v.value: sum(1 for d in run.drills if d.verdict is v) for v in Verdict}
    html = (
        environment()
        .get_template("index.html.j2")
        .render(**_common(clock), run=run, rows=rows, counts=counts, trend_link=trend_link)
    )
    return _write(run_dir / INDEX_FILE, html)


@dataclass(frozen=True)
class TrendRow:
    result: DrillResult
    figures: list[Figure]


@dataclass(frozen=True)
class TrendScenario:
    name: str
    chart: LineChart
    rows: list[TrendRow]
    limits_changed: bool


def render_trend(reports_dir: Path, *, clock: Clock = SYSTEM_CLOCK) -> Path:
    """Render ``reports_dir/trend.html`` from ``reports_dir/history.jsonl``; return its path."""
    reports_dir = reports_dir.resolve()
    reports_dir.mkdir(parents=True, exist_ok=True)
    history = read_history(reports_dir / HISTORY_FILE)
    scenarios = []
    for name, results in history.by_scenario().items():
        rows = [
            TrendRow(
                r,
                [
                    timing_figure("mttd_seconds", "MTTD", r.mttd_seconds, r.thresholds.max_mttd_seconds),
                    timing_figure("mttr_seconds", "MTTR", r.mttr_seconds, r.thresholds.max_mttr_seconds),
                ],
            )
            for r in results
        ]
        limits = {(r.thresholds.max_mttd_seconds, r.thresholds.max_mttr_seconds) for r in results}
        scenarios.append(TrendScenario(name, trend_chart(name, results), rows, len(limits) > 1))
    starts: list[datetime] = [as_utc(r.started) for r in history.results]
    html = (
        environment()
        .get_template("trend.html.j2")
        .render(
            **_common(clock),
            scenarios=scenarios,
            problems=history.problems,
            total=len(history.results),
            source=HISTORY_FILE,
            first=min(starts) if starts else None,
            last=max(starts) if starts else None,
        )
    )
    return _write(reports_dir / TREND_FILE, html)
