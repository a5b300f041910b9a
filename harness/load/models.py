"""What a drill's load looks like (``LoadSpec``) and what it measured (``LoadSummary``).

A :class:`LoadSpec` names a Locust profile (a shipped one in ``fixtures/load/`` or
a user's own locustfile) and a shape, and sizes it. :class:`RequestRecord` is one
line of the JSONL files ``fixtures/load/drill_events.py`` writes from every Locust
process; :class:`LoadSummary` is what :meth:`harness.load.runner.LoadRunner.stop`
returns: per-phase figures, acknowledged writes, and the records themselves for
"recovery as users saw it".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.drill.results import Impact, PhaseLoad
from harness.load import stats


class ShapeKind(StrEnum):
    """The shipped ``LoadTestShape``s (``fixtures/load/shapes.py``)."""

    STEADY = "steady"
    SPIKE = "spike"
    RAMP = "ramp"
    SOAK = "soak"


class Phase(StrEnum):
    """Drill phases: load start → fault, fault → recovery, recovery → stop."""

    BEFORE = "before"
    DURING = "during"
    AFTER = "after"


class LoadSpec(BaseModel):
    """One drill's load. Defaults are sized for 2 cores shared with the whole stack (docs/load.md)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = "demo_users"
    """A shipped profile name (``fixtures/load/<name>.py``) or a path to a locustfile of yours."""
    shape: ShapeKind | None = ShapeKind.STEADY
    """``None``: no shape, plain ``-u/-r`` (a user's locustfile may bring its own shape)."""
    users: int = Field(default=6, ge=1, le=10_000)
    spawn_rate: float = Field(default=3.0, gt=0)
    rate_per_user: float = Field(default=5.0, gt=0)
    """Task runs per second per user (``constant_throughput``); the demo profile does one request per task."""
    max_seconds: float = Field(default=900.0, gt=0, le=86_400)
    """Hard run-time bound: Locust stops on its own after this, even if the harness dies."""
    workers: int = Field(default=0, ge=0, le=64)
    """0: one local Locust process. N: a master plus N workers on loopback."""
    spike_after_s: float = Field(default=10.0, ge=0)
    spike_duration_s: float = Field(default=10.0, gt=0)
    spike_multiplier: float = Field(default=3.0, ge=1)
    ramp_seconds: float = Field(default=30.0, gt=0)
    soak_ramp_seconds: float = Field(default=60.0, ge=0)
    start_timeout_s: float = Field(default=45.0, gt=0)
    stop_timeout_s: float = Field(default=20.0, gt=0)
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for the Locust processes (your own locustfile's settings)."""

    @field_validator("env")
    @classmethod
    def _no_drill_overrides(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.startswith("DRILL_"))
        if reserved:
            raise ValueError(f"DRILL_* variables are set by the runner: {', '.join(reserved)}")
        return value

    @property
    def total_rate(self) -> float:
        """Target requests per second at full user count (one request per task)."""
        return self.users * self.rate_per_user


class RequestRecord(BaseModel):
    """One request as a Locust user saw it (one JSONL line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    t: float
    """Unix time at request start."""
    name: str
    method: str
    status: int
    """HTTP status; 0 when no response arrived (connection error, timeout)."""
    ms: float
    ok: bool
    write: bool = False
    """A write whose acknowledgement the data audit must check."""
    order_id: str | None = None
    """The id the target returned for an acknowledged write."""
    error: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.name}"

    @property
    def end(self) -> float:
        return self.t + self.ms / 1000.0


class PhaseMark(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    wall: datetime


class LoadSummary(BaseModel):
    """What the load saw. ``records`` are sorted by start time."""

    model_config = ConfigDict(extra="forbid")

    started: datetime
    stopped: datetime
    marks: list[PhaseMark]
    phases: list[PhaseLoad]
    acknowledged_write_ids: list[str]
    failed_writes: int
    records: list[RequestRecord] = Field(default_factory=list, repr=False)
    output_dir: Path | None = None
    workers: int = 0
    exit_codes: list[int | None] = Field(default_factory=list)

    @classmethod
    def from_records(
        cls,
        records: list[RequestRecord],
        *,
        started: datetime,
        stopped: datetime,
        marks: list[PhaseMark],
        workers: int,
        output_dir: Path | None = None,
        exit_codes: list[int | None] | None = None,
    ) -> LoadSummary:
        """Per-phase figures, acknowledged and failed writes, all from the per-request records."""
        return cls(
            started=started,
            stopped=stopped,
            marks=list(marks),
            phases=stats.split_phases(records, marks, stopped),
            acknowledged_write_ids=stats.acknowledged_ids(records),
            failed_writes=stats.failed_writes(records),
            records=records,
            output_dir=output_dir,
            workers=workers,
            exit_codes=exit_codes or [],
        )

    @property
    def requests(self) -> int:
        return len(self.records)

    def mark(self, name: str) -> datetime | None:
        """Wall time of the first mark called ``name``."""
        return next((m.wall for m in self.marks if m.name == name), None)

    def phase(self, name: str) -> PhaseLoad | None:
        return next((p for p in self.phases if p.phase == name), None)

    def user_seen_recovery(
        self,
        fault_at: datetime | None = None,
        *,
        bucket_s: float = 1.0,
        threshold: float = 0.05,
        hold_s: float = 5.0,
        max_p95_ms: float | None = None,
    ) -> datetime | None:
        """Recovery as users saw it; see :func:`harness.load.stats.user_seen_recovery`.

        ``fault_at`` defaults to the ``during`` mark.
        """
        start = fault_at or self.mark(Phase.DURING)
        if start is None:
            return None
        return stats.user_seen_recovery(
            self.records,
            start,
            self.stopped,
            bucket_s=bucket_s,
            threshold=threshold,
            hold_s=hold_s,
            max_p95_ms=max_p95_ms,
        )

    def impact(self, since: datetime | None = None, until: datetime | None = None) -> Impact:
        """The incident's impact: failures from the fault (``during`` mark) to the end of the load."""
        start = since or self.mark(Phase.DURING)
        if start is None:
            return Impact()
        return stats.impact(self.records, start, until or self.stopped)
