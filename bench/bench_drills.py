"""Benchmark: the monthly drill suite's wall time, per drill, and detection overhead.

Runs every monthly scenario once on a fresh local stack (start-up included) and prints the wall time,
a per-drill breakdown, and each drill's MTTD minus its detection floor (scrape + evaluation interval +
the rule's `for`): the time the pipeline adds beyond the physics of the configured intervals.
Targets on the 2-core reference machine: whole suite under 3 minutes; median (MTTD - floor) under 1.5 s.

    .venv/bin/python bench/bench_drills.py [SCHEDULE]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.drill.context import DrillOptions
from harness.drill.session import DrillSession
from harness.runbooks.catalog import load_runbooks
from harness.scenarios.load import load_scenarios
from harness.stack.local import LocalSettings, LocalStack

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    schedule = sys.argv[1] if len(sys.argv) > 1 else "monthly"
    scenarios = [s for s in load_scenarios(REPO / "scenarios") if s.schedule.value == schedule]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-drills-") as tmp:
        stack = LocalStack(LocalSettings(run_dir=Path(tmp) / "stack"))
        rows = []
        try:
            stack.up()
            startup = time.monotonic() - t0
            session = DrillSession(stack, load_runbooks(), DrillOptions(report_dir=Path(tmp) / "reports"))
            for scenario in scenarios:
                started = time.monotonic()
                result = session.run(scenario)
                rows.append((result, time.monotonic() - started))
        finally:
            stack.down()
    wall = time.monotonic() - t0
    print(f"{schedule} suite: {len(rows)} drills, wall time {wall:.1f} s (stack start-up {startup:.1f} s)")
    print(
        f"{'drill':18} {'verdict':7} {'wall':>7} {'MTTD':>7} {'floor':>7} {'MTTD-floor':>10} "
        f"{'MTTN':>7} {'MTTR':>7}"
    )
    overheads = []
    for r, seconds in rows:
        over = None
        if r.mttd_seconds is not None and r.detection_floor_seconds is not None:
            over = r.mttd_seconds - r.detection_floor_seconds
            overheads.append(over)

        def f(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"

        print(
            f"{r.scenario:18} {r.verdict.value:7} {seconds:7.1f} {f(r.mttd_seconds):>7} "
            f"{f(r.detection_floor_seconds):>7} {f(over):>10} {f(r.mttn_seconds):>7} {f(r.mttr_seconds):>7}"
        )
    if overheads:
        median = statistics.median(overheads)
        print(
            f"median MTTD - floor: {median:.2f} s (target < 1.5 s): {'OK' if median < 1.5 else 'OVER TARGET'}"
        )
    print(f"suite wall time {wall:.1f} s (target < 180 s): {'OK' if wall < 180 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
