"""The summary table printed after drills (terminal and pytest)."""

from __future__ import annotations

from harness.drill.results import DrillResult


def _fmt(value: float | None, limit: float | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}s"
    if limit is not None and value > limit:
        text += "!"
    return text


def summary_rows(results: list[DrillResult]) -> list[list[str]]:
    rows = []
    for r in results:
        t = r.thresholds
        floor = "—" if r.detection_floor_seconds is None else f"{r.detection_floor_seconds:.2f}s"
        rows.append(
            [
                f"{r.scenario}#{r.iteration}",
                r.verdict.value.upper(),
                _fmt(r.mttd_seconds, t.max_mttd_seconds),
                floor,
                _fmt(r.mttn_seconds, t.max_mttn_seconds),
                _fmt(r.mttm_seconds),
                _fmt(r.mttr_seconds, t.max_mttr_seconds),
                _fmt(r.mttr_user_seconds),
                {True: "yes", False: "NO", None: "—"}[r.rollback_ok],
                f"{r.writes_lost}/{r.writes_acknowledged}",
            ]
        )
    return rows


HEADERS = [
    "drill",
    "verdict",
    "MTTD",
    "floor",
    "MTTN",
    "MTTM",
    "MTTR",
    "MTTR(users)",
    "rollback",
    "lost/acked",
]


def summary_lines(results: list[DrillResult]) -> list[str]:
    rows = [HEADERS, *summary_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    for r in results:
        for reason in r.reasons:
            lines.append(f"  {r.scenario}#{r.iteration}: {reason}")
    lines.append("(! = over its threshold; floor = scrape + evaluation interval + the rule's `for`)")
    return lines
