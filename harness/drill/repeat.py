"""--repeat N: the distribution of each figure (median and p90, not only the mean)."""

from __future__ import annotations

import statistics

from harness.drill.results import DrillResult

FIGURES = ("mttd_seconds", "mttn_seconds", "mttm_seconds", "mttr_seconds", "mttr_user_seconds")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(results: list[DrillResult]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario -> figure -> {n, median, p90, min, max, mean}."""
    by: dict[str, list[DrillResult]] = {}
    for r in results:
        by.setdefault(r.scenario, []).append(r)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, rs in by.items():
        out[name] = {}
        for figure in FIGURES:
            values = [v for r in rs if (v := getattr(r, figure)) is not None]
            if values:
                out[name][figure] = {
                    "n": float(len(values)),
                    "median": statistics.median(values),
                    "p90": percentile(values, 90),
                    "min": min(values),
                    "max": max(values),
                    "mean": statistics.fmean(values),
                }
    return out


def distribution_lines(results: list[DrillResult]) -> list[str]:
    lines = ["distribution over repeats (seconds): figure  n  median  p90  min  max"]
    for name, figures in distribution(results).items():
        for figure, d in figures.items():
            lines.append(
                f"  {name:24} {figure:18} {int(d['n']):2d} {d['median']:7.2f} {d['p90']:7.2f} "
                f"{d['min']:7.2f} {d['max']:7.2f}"
            )
    return lines
