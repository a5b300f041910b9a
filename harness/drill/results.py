"""results.json: one record per drill, as written to reports/<run-id>/results.json."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from harness.drill.timeline import TimelineEvent


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_mttd_seconds: float | None = None
    max_mttn_seconds: float | None = None
    max_mttr_seconds: float | None = None
    rollback_required: bool = True
    max_lost_writes: int = 0


class PhaseLoad(BaseModel):
    """Load figures for one drill phase (before / during / after), from the load generator."""

    model_config = ConfigDict(extra="forbid")

    phase: str
    requests: int = 0
    failures: int = 0
    failure_ratio: float = 0.0
    rps: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    endpoints: dict[str, dict[str, float]] = Field(default_factory=dict)


class Impact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_failed: int = 0
    requests_total: int = 0
    affected_endpoints: list[str] = Field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None


class StepRecord(BaseModel):
    """One runbook step as it ran."""

    model_config = ConfigDict(extra="forbid")

    runbook: str
    step: str
    kind: str
    started: datetime
    finished: datetime | None = None
    outcome: str
    attempts: int = 1
    output: str = ""


class DrillResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    run_id: str
    iteration: int = 1
    severity: str = "SEV2"
    schedule: str = "monthly"
    backend: str = "local"
    fault: str = ""
    runbook: str | None = None
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)
    started: datetime
    finished: datetime
    mttd_seconds: float | None = None
    mttn_seconds: float | None = None
    mttm_seconds: float | None = None
    mttr_seconds: float | None = None
    mttr_user_seconds: float | None = None
    detection_floor_seconds: float | None = None
    """scrape + evaluation interval + the rule's `for`: the delay the configured intervals alone can
    impose on MTTD (the fault lands at a random phase, so MTTD may also be a little below it)."""
    notification_floor_seconds: float | None = None
    """The detection floor plus Alertmanager's group_wait: the same bound for MTTN."""
    rollback_ok: bool | None = None
    rollback_details: list[str] = Field(default_factory=list)
    writes_acknowledged: int = 0
    writes_lost: int = 0
    lost_write_ids: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    steps: list[StepRecord] = Field(default_factory=list)
    load: list[PhaseLoad] = Field(default_factory=list)
    impact: Impact = Field(default_factory=Impact)
    notes: list[str] = Field(default_factory=list)


class RunResults(BaseModel):
    """The whole of results.json."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    started: datetime
    finished: datetime | None = None
    backend: str = "local"
    host: str = ""
    drills: list[DrillResult] = Field(default_factory=list)
