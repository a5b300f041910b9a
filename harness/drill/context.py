"""One object carries everything a drill needs; phases are an enum."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.drill.timeline import Timeline
from harness.errors import DrillHalted, SafetyError
from harness.faults.ledger import FaultLedger
from harness.observe.prometheus import PrometheusClient
from harness.paths import state_dir
from harness.runbooks.models import Runbook
from harness.scenarios.models import Scenario
from harness.stack.base import Service, Stack


class DrillPhase(StrEnum):
    PENDING = "pending"
    PREFLIGHT = "preflight"
    STEADY_STATE = "steady_state"
    LOAD = "load"
    INJECT = "inject"
    DETECT = "detect"
    RESPOND = "respond"
    RECOVER = "recover"
    REVERT = "revert"
    VERIFY = "verify"
    AUDIT = "audit"
    DONE = "done"
    ABORTED = "aborted"


class DrillAborted(SafetyError):
    """A stop condition (blast radius) ended the drill early; everything is still reverted."""


def halt_file() -> Path:
    """The global kill switch: while this file exists, drills abort and revert."""
    return state_dir() / "HALT"


@dataclass
class DrillOptions:
    """How to run drills (CLI / pytest options), not what a drill is (that is the scenario)."""

    report_dir: Path = Path("reports")
    poll_interval_s: float = 0.1
    steady_state_timeout_s: float = 60.0
    baseline_load_s: float = 3.0
    detection_timeout_s: float = 120.0
    resolve_timeout_s: float = 90.0
    strict_confirm: bool = False
    allow_remote: bool = False
    dry_run: bool = False
    with_load: bool = True
    load_workers: int | None = None
    """Override the scenario's Locust worker count (0 = one local process)."""
    progress: Callable[[str, str], None] | None = None
    """Called with (scenario, phase) on every phase change (the CLI's live display)."""


@dataclass
class DrillContext:
    scenario: Scenario
    stack: Stack
    runbooks: dict[str, Runbook]
    options: DrillOptions
    run_id: str
    run_dir: Path
    iteration: int = 1
    clock: Clock = SYSTEM_CLOCK
    timeline: Timeline = field(init=False)
    phase: DrillPhase = DrillPhase.PENDING
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0, trust_env=False))
    ledger: FaultLedger = field(default_factory=FaultLedger)
    prometheus: PrometheusClient = field(init=False)
    notes: list[str] = field(default_factory=list)
    finishing: bool = False
    stop_checks: list[Callable[[], None]] = field(default_factory=list)
    """Extra stop conditions run by guard() (e.g. the blast radius); each raises DrillAborted."""

    def __post_init__(self) -> None:
        self.timeline = Timeline(self.clock)
        self.prometheus = PrometheusClient(self.stack.endpoint(Service.PROMETHEUS).url)
        self.started_mono = self.clock.monotonic()

    @property
    def drill_dir(self) -> Path:
        path = self.run_dir / f"{self.scenario.name}-{self.iteration}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def target_url(self) -> str:
        if self.scenario.target.base_url:
            return self.scenario.target.base_url.rstrip("/")
        return self.stack.endpoint(Service.TARGET).url

    def enter(self, phase: DrillPhase) -> None:
        self.phase = phase
        if self.options.progress is not None:
            with contextlib.suppress(Exception):  # a broken display never breaks a drill
                self.options.progress(self.scenario.name, phase.value)

    def guard(self) -> None:
        """Called from every poll loop: the kill switch and the drill's overall time limit."""
        if halt_file().exists():
            raise DrillHalted(f"kill switch {halt_file()} is set: drill {self.scenario.name} halted")
        if self.finishing:  # reverting and verifying are never cut short by the stop conditions
            return
        limit = self.scenario.stop_conditions.max_duration_seconds
        if self.clock.monotonic() - self.started_mono > limit:
            raise DrillAborted(f"stop condition: drill exceeded max_duration_seconds={limit:g}")
        for check in self.stop_checks:
            check()
