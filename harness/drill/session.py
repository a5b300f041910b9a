"""A drill run: several scenarios (maybe repeated) on one stack, written to reports/<run-id>/."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from harness.clock import SYSTEM_CLOCK, Clock
from harness.drill import history
from harness.drill.context import DrillContext, DrillOptions
from harness.drill.loop import DrillRunner
from harness.drill.results import DrillResult, RunResults
from harness.faults.ledger import FaultLedger
from harness.runbooks.models import Runbook
from harness.scenarios.models import Scenario
from harness.stack.base import Service, Stack

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, DrillContext | None], None]


def new_run_id(clock: Clock) -> str:
    return clock.now().strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 10000:04d}"


class DrillSession:
    """Runs drills on a running stack and keeps results.json, reports/latest and the history current."""

    def __init__(
        self,
        stack: Stack,
        runbooks: dict[str, Runbook],
        options: DrillOptions,
        *,
        clock: Clock = SYSTEM_CLOCK,
        run_id: str | None = None,
        ledger: FaultLedger | None = None,
    ) -> None:
        self.stack = stack
        self.runbooks = runbooks
        self.options = options
        self.clock = clock
        self.run_id = run_id or new_run_id(clock)
        self.run_dir = (options.report_dir / self.run_id).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = ledger or FaultLedger(clock=clock)
        self.results = RunResults(
            run_id=self.run_id, started=clock.now(), backend=stack.backend, host=socket.gethostname()
        )

    def run(self, scenario: Scenario, iteration: int = 1) -> DrillResult:
        ctx = DrillContext(
            scenario=scenario,
            stack=self.stack,
            runbooks=self.runbooks,
            options=self.options,
            run_id=self.run_id,
            run_dir=self.run_dir,
            iteration=iteration,
            clock=self.clock,
            ledger=self.ledger,
        )
        result = DrillRunner(ctx).run()
        self._capture_metrics(result, scenario)
        self.results.drills.append(result)
        self._write()
        self._render_page(result)
        return result

    def _render_page(self, result: DrillResult) -> None:
        """The drill's page right away (pytest attaches it to the test); index.html at finish()."""
        try:
            from harness.report.render import render_drill

            render_drill(result, self.run_dir)
        except Exception:
            log.exception("rendering the page of %s failed", result.scenario)

    def finish(self) -> Path:
        """Write results.json, point reports/latest here, append the history, render HTML."""
        self.results.finished = self.clock.now()
        self._write()
        latest = self.options.report_dir / "latest"
        with contextlib.suppress(OSError):
            if latest.is_symlink() or latest.exists():
                latest.unlink()
            latest.symlink_to(self.run_id)
        history.append(self.options.report_dir, self.results.drills)
        return self.render()

    def render(self) -> Path:
        """HTML report; a broken reporter never fails the run."""
        index = self.run_dir / "results.json"
        try:
            from harness.report.render import render_run, render_trend

            index = render_run(self.run_dir)
            render_trend(self.options.report_dir)
        except Exception:
            log.exception("rendering the HTML report failed; results.json is intact")
        return index

    def _write(self) -> None:
        path = self.run_dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.results.model_dump_json(indent=2))
        tmp.replace(path)

    def _capture_metrics(self, result: DrillResult, scenario: Scenario) -> None:
        thresholds: dict[str, float] = {}
        for criterion in scenario.recovery.criteria:
            if criterion.error_ratio is not None:
                thresholds["error_ratio"] = criterion.error_ratio.max
            if criterion.p95_latency is not None:
                thresholds["p95_latency_ms"] = criterion.p95_latency.max_seconds * 1000
        timing = self.stack.alert_timing()
        step = timing.scrape_interval_s if timing is not None else 1.0
        try:
            from harness.report.metrics import capture_metrics, metrics_path

            url = self.stack.endpoint(Service.PROMETHEUS).url
            start = result.started - timedelta(seconds=5)
            series = capture_metrics(
                url, start, result.finished, step, rate_window="5s", thresholds=thresholds
            )
            series.save(metrics_path(self.run_dir, result.scenario, result.iteration))
        except Exception as exc:  # the report says "no metrics" instead
            log.warning("capturing metrics for %s failed: %s", result.scenario, exc)
