"""Benchmark: how long the whole local stack takes to be ready (target: under 10 s on 2 cores).

Prints each service's readiness time and the total, for N runs (default 3), and checks that nothing
is left running afterwards.

    .venv/bin/python bench/bench_stack_startup.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.stack.local import LocalSettings, LocalStack
from harness.stack.procs import pid_alive


def one_run(base: Path, i: int) -> dict[str, float]:
    stack = LocalStack(LocalSettings(run_dir=base / f"run-{i}"))
    t0 = time.monotonic()
    pids: list[int] = []
    try:
        stack.up()
        ready = time.monotonic() - t0
        pids = [p.pid for p in stack.procs.values() if p.pid is not None]
    finally:
        t1 = time.monotonic()
        stack.down()
        down = time.monotonic() - t1
    left = [p for p in pids if pid_alive(p)]
    if left:
        raise SystemExit(f"processes left running after down(): {left}")
    return {**stack.startup_seconds, "ready": ready, "teardown": down}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        results = [one_run(Path(tmp), i) for i in range(runs)]
    keys = list(results[0])
    print(f"local stack start-up over {runs} run(s), seconds (median / max):")
    for key in keys:
        values = [r.get(key, 0.0) for r in results]
        print(f"  {key:14} {statistics.median(values):7.3f} {max(values):7.3f}")
    ready = statistics.median(r["ready"] for r in results)
    print(f"ready in {ready:.2f} s (target < 10 s): {'OK' if ready < 10 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
