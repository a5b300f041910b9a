"""The CI gate: fail when the latest run breaches thresholds or MTTD/MTTR regress beyond a tolerance.

The baseline is a committed file (a results.json, or
``{"scenario": {"mttd_seconds": .., "mttr_seconds": ..}}``) or, without one, the median of the
scenario's earlier runs in ``reports/history.jsonl``.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from harness.drill import history
from harness.drill.results import DrillResult, RunResults, Verdict
from harness.errors import GateError

FIGURES = ("mttd_seconds", "mttr_seconds")
HISTORY_WINDOW = 5


@dataclass
class GateRow:
    scenario: str
    figure: str
    current: float | None
    baseline: float | None
    limit: float | None
    problems: list[str] = field(default_factory=list)


@dataclass
class GateReport:
    run_id: str
    baseline_source: str
    tolerance_pct: float
    rows: list[GateRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.problems for r in self.rows)

    def lines(self) -> list[str]:
        out = [f"gate: run {self.run_id} vs {self.baseline_source} (tolerance {self.tolerance_pct:g}%)"]
        header = f"{'scenario':28} {'figure':13} {'current':>9} {'baseline':>9} {'limit':>9}  result"
        out.append(header)
        for r in self.rows:
            cells = [_num(r.current), _num(r.baseline), _num(r.limit)]
            verdict = "FAIL: " + "; ".join(r.problems) if r.problems else "ok"
            out.append(f"{r.scenario:28} {r.figure:13} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}  {verdict}")
        out.extend(f"FAIL: {p}" for p in self.problems)
        out.append("gate: PASS" if self.ok else "gate: FAIL")
        return out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def latest_run(report_dir: Path, run_dir: Path | None = None) -> RunResults:
    """The run in ``run_dir``, else the one ``reports/latest`` points to, else the newest."""
    latest = (run_dir or report_dir / "latest") / "results.json"
    if run_dir is None and not latest.exists():
        runs = sorted(report_dir.glob("*/results.json"))
        if not runs:
            raise GateError(f"no drill run found under {report_dir}")
        latest = runs[-1]
    try:
        return RunResults.model_validate_json(latest.read_text())
    except (OSError, ValidationError) as exc:
        raise GateError(f"cannot read {latest}: {exc}") from exc


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def baseline_from_file(path: Path) -> dict[str, dict[str, float | None]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GateError(f"cannot read baseline {path}: {exc}") from exc
    if isinstance(data, dict) and "drills" in data:
        try:
            run = RunResults.model_validate(data)
        except ValidationError as exc:
            raise GateError(f"baseline {path} is not a valid results.json: {exc}") from exc
        return _medians_by_scenario(run.drills)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise GateError(
            f"baseline {path}: expected {{scenario: {{mttd_seconds, mttr_seconds}}}} or a results.json"
        )
    return {str(k): {f: _float(v.get(f)) for f in FIGURES} for k, v in data.items()}


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _medians_by_scenario(results: list[DrillResult]) -> dict[str, dict[str, float | None]]:
    by: dict[str, list[DrillResult]] = {}
    for r in results:
        if r.verdict == Verdict.PASS:
            by.setdefault(r.scenario, []).append(r)
    out: dict[str, dict[str, float | None]] = {}
    for name, rs in by.items():
        out[name] = {f: _median([v for r in rs if (v := getattr(r, f)) is not None]) for f in FIGURES}
    return out


def baseline_from_history(report_dir: Path, exclude_run: str) -> dict[str, dict[str, float | None]]:
    earlier = [r for r in history.read(report_dir) if r.run_id != exclude_run]
    by_scenario: dict[str, list[DrillResult]] = {}
    for r in earlier:
        by_scenario.setdefault(r.scenario, []).append(r)
    recent = [r for rs in by_scenario.values() for r in rs[-HISTORY_WINDOW:]]
    return _medians_by_scenario(recent)


def run_gate(
    report_dir: Path,
    *,
    baseline: Path | None = None,
    tolerance_pct: float = 20.0,
    run_dir: Path | None = None,
) -> GateReport:
    run = latest_run(report_dir, run_dir)
    if baseline is not None:
        base, source = baseline_from_file(baseline), str(baseline)
    else:
        base, source = baseline_from_history(report_dir, run.run_id), f"median of last {HISTORY_WINDOW} runs"
    report = GateReport(run.run_id, source, tolerance_pct)
    if not run.drills:
        report.problems.append(f"run {run.run_id} has no drill results")
    for name, results in _group(run.drills).items():
        for r in results:
            if r.verdict != Verdict.PASS:
                report.problems.append(
                    f"{name}#{r.iteration}: verdict {r.verdict.value}: {'; '.join(r.reasons)}"
                )
        for figure in FIGURES:
            values = [v for r in results if (v := getattr(r, figure)) is not None]
            current = _median(values)
            limit = getattr(results[0].thresholds, f"max_{figure}")
            ref = base.get(name, {}).get(figure)
            row = GateRow(name, figure, current, ref, limit)
            if current is None:
                if limit is not None or ref is not None:  # a figure the scenario does not measure is fine
                    row.problems.append("not measured")
            else:
                if limit is not None and current > limit:
                    row.problems.append(f"over threshold {limit:g}s")
                if ref is not None and current > ref * (1 + tolerance_pct / 100.0):
                    row.problems.append(f"regressed {100 * (current / ref - 1):.0f}% vs baseline")
            report.rows.append(row)
    return report


def _group(results: list[DrillResult]) -> dict[str, list[DrillResult]]:
    out: dict[str, list[DrillResult]] = {}
    for r in results:
        out.setdefault(r.scenario, []).append(r)
    return out
