"""How much load the demo target sustains on this machine with p95 under its SLO.

    .venv/bin/python bench/bench_target_capacity.py [--rates 20,40,...] [--step-seconds 10]
        [--slo-ms 250] [--budget-seconds 90] [--via-proxy] [--json FILE]

Brings up the local stack (Postgres, Redis, the demo target under its supervisor,
Prometheus, Alertmanager; all on 127.0.0.1), then steps the demo profile's request
rate up, one fresh Locust per step (steady shape). A step is *sustained* when the
achieved rate is at least 90 % of the asked one, p95 is under ``--slo-ms`` and
under 1 % of the requests fail (the first ``--warmup-seconds`` of each step are
left out). Stops at the first step that is not sustained or when the time budget
would be exceeded, prints a table and the highest sustained rate. Locust runs on
the same cores as the stack, exactly as in a drill, so this is the capacity of
the whole machine as a drill sees it. Everything is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.load import stats  # noqa: E402
from harness.load.models import LoadSpec  # noqa: E402
from harness.load.runner import LoadRunner  # noqa: E402
from harness.stack.base import Service  # noqa: E402
from harness.stack.local import LocalSettings, LocalStack  # noqa: E402

STARTUP_ALLOWANCE_S = 3.0  # Locust start + stop per step


@dataclass
class Step:
    asked_rps: float
    users: int
    achieved_rps: float
    requests: int
    failure_ratio: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sustained: bool


def run_step(url: str, rate: float, seconds: float, warmup: float, slo_ms: float, run_dir: Path) -> Step:
    users = max(6, math.ceil(rate / 10.0))  # at most 10 req/s per user keeps pacing exact
    spec = LoadSpec(
        users=users, spawn_rate=float(users), rate_per_user=rate / users, max_seconds=seconds + 30
    )
    runner = LoadRunner(spec, url, run_dir)
    try:
        runner.start()
        time.sleep(seconds)
    finally:
        summary = runner.stop()
    begin = summary.started.timestamp() + warmup
    end = begin + max(seconds - warmup, 0.1)
    window = [r for r in summary.records if begin <= r.t < end]
    phase = stats.phase_load("step", window, end - begin)
    sustained = (
        phase.rps >= 0.9 * rate
        and phase.p95_ms is not None
        and phase.p95_ms < slo_ms
        and phase.failure_ratio < 0.01
    )
    return Step(rate, users, round(phase.rps, 1), phase.requests, round(phase.failure_ratio, 4),
                phase.p50_ms, phase.p95_ms, phase.p99_ms, sustained)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="30,100,200,350,500,700", help="asked req/s per step, ascending")
    parser.add_argument("--step-seconds", type=float, default=9.0)
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--slo-ms", type=float, default=250.0)
    parser.add_argument("--budget-seconds", type=float, default=90.0)
    parser.add_argument("--via-proxy", action="store_true", help="through the fault proxy, as drills are")
    parser.add_argument("--json", type=Path, help="also write the steps here")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]

    started = time.monotonic()
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        stack = LocalStack(LocalSettings(run_dir=Path(tmp) / "stack", with_proxy=args.via_proxy))
        try:
            stack.up()
            url = stack.endpoint(Service.TARGET).url
            for index, rate in enumerate(rates):
                elapsed = time.monotonic() - started
                if elapsed + args.step_seconds + STARTUP_ALLOWANCE_S > args.budget_seconds:
                    print(f"time budget reached after {elapsed:.0f}s; stopping before {rate:g} req/s")
                    break
                step = run_step(url, rate, args.step_seconds, args.warmup_seconds, args.slo_ms,
                                Path(tmp) / f"step-{index}")
                steps.append(step)
                print(
                    f"asked {step.asked_rps:6.0f} req/s  users {step.users:3d}  "
                    f"achieved {step.achieved_rps:6.1f}  fail {step.failure_ratio:6.2%}  "
                    f"p50 {step.p50_ms or 0:7.1f} ms  p95 {step.p95_ms or 0:7.1f} ms  "
                    f"p99 {step.p99_ms or 0:7.1f} ms  {'ok' if step.sustained else 'NOT SUSTAINED'}",
                    flush=True,
                )
                if not step.sustained:
                    break
        finally:
            stack.down()
    best = max((s.asked_rps for s in steps if s.sustained), default=None)
    total = time.monotonic() - started
    if best is None:
        print(f"no step sustained p95 < {args.slo_ms:g} ms ({total:.0f}s)")
    else:
        print(f"highest rate sustained with p95 < {args.slo_ms:g} ms: {best:g} req/s ({total:.0f}s)")
    if args.json:
        args.json.write_text(json.dumps({"slo_ms": args.slo_ms, "best_rps": best, "via_proxy": args.via_proxy,
                                         "steps": [asdict(s) for s in steps]}, indent=2))
    return 0 if best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
