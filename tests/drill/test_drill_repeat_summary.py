"""--repeat distributions and the summary table."""

from __future__ import annotations

from drill_samples import result

from harness.drill.repeat import distribution, distribution_lines, percentile
from harness.drill.summary import summary_lines


def test_percentile_interpolates() -> None:
    assert percentile([1.0], 90) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([10.0, 20.0], 90) == 19.0


def test_distribution_gives_median_and_p90_per_figure() -> None:
    results = [result(iteration=i, mttd=m, mttr=r) for i, (m, r) in enumerate([(6, 12), (7, 15), (9, 30)], 1)]
    d = distribution(results)["http-5xx"]
    assert d["mttd_seconds"]["median"] == 7.0
    assert d["mttr_seconds"]["median"] == 15.0
    assert d["mttr_seconds"]["p90"] == 27.0
    assert d["mttr_seconds"]["n"] == 3.0
    assert any("mttr_seconds" in line for line in distribution_lines(results))


def test_summary_marks_figures_over_threshold() -> None:
    lines = summary_lines([result(mttr=75.0)])
    row = lines[1]
    assert "75.00s!" in row and "7.00s" in row
    assert lines[0].split()[:3] == ["drill", "verdict", "MTTD"]
