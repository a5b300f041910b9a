"""The scenario file format (``scenarios/*.yaml``) as pydantic models.

A scenario says what to break (``fault``), how the team is expected to notice
(``expect.alerts``) and respond (``expect.runbook``, or ``null`` for a manual
response), what "recovered" means (``recovery``), under which load, and the
figures the drill must meet (``thresholds``). Every model forbids unknown keys;
every duration is positive and finite. See docs/scenario-format.md.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, field_validator, model_validator

from harness.compare import Comparison
from harness.drill.results import Thresholds
from harness.scenarios.checks import (
    ErrorRatioCriterion,
    HttpCheck,
    P95LatencyCriterion,
    PromqlCheck,
    ReadyCriterion,
    Recovery,
    RecoveryCriterion,
    SteadyStateCheck,
)
from harness.scenarios.durations import FiniteFloat, NonNegativeSeconds, Seconds
from harness.scenarios.faultspec import MAX_FAULT_SECONDS, FaultSpec, fault_params_model
from harness.scenarios.fields import (
    AlertName,
    EnvName,
    HostName,
    Identifier,
    Ratio,
    Slug,
    StrictModel,
    Tag,
    UrlPath,
    http_url,
)
from harness.scenarios.hosts import host_of_url, hosts_in_params, is_loopback
from harness.severity import SeverityField

__all__ = [
    "MAX_FAULT_SECONDS",
    "AdminSettings",
    "Comparison",
    "ErrorRatioCriterion",
    "Expectation",
    "FaultSpec",
    "HttpCheck",
    "LoadSettings",
    "LoadShape",
    "P95LatencyCriterion",
    "PromqlCheck",
    "ReadyCriterion",
    "Recovery",
    "RecoveryCriterion",
    "SafetySettings",
    "Scenario",
    "ScenarioThresholds",
    "Schedule",
    "SteadyStateCheck",
    "StopConditions",
    "Target",
    "TargetKind",
    "fault_params_model",
]


class Schedule(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


# --- target -------------------------------------------------------------------------------------------


class TargetKind(StrEnum):
    DEMO = "demo"
    EXTERNAL = "external"


class AdminSettings(StrictModel):
    """The demo target's admin API (flags, breakers, rules) that runbooks drive."""

    path_prefix: UrlPath = "/admin"
    token_env: EnvName | None = None


class Target(StrictModel):
    kind: TargetKind = TargetKind.DEMO
    base_url: str | None = None
    health_path: UrlPath = "/health/live"
    ready_path: UrlPath = "/health/ready"
    metrics_job: Annotated[str, Field(min_length=1, max_length=128)] = "demo-target"
    admin: AdminSettings | None = None
    allow_remote: bool = False

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @model_validator(mode="after")
    def _kinds(self) -> Target:
        if self.kind is TargetKind.EXTERNAL:
            if self.base_url is None:
                raise ValueError("an external target needs base_url")
            host = self.host
            if host is not None and not is_loopback(host) and not self.allow_remote:
                raise ValueError(
                    f"target host {host!r} is not loopback; an external target must declare "
                    "allow_remote: true to aim at it (and the run needs --allow-remote)"
                )
        elif self.admin is None:
            self.admin = AdminSettings()
        return self

    @property
    def host(self) -> str | None:
        return None if self.base_url is None else host_of_url(self.base_url)


class Expectation(StrictModel):
    """What should happen: these alerts fire, this runbook responds (``runbook: null`` = manual)."""

    alerts: list[AlertName] = Field(default_factory=list)
    runbook: Identifier | None

    @model_validator(mode="after")
    def _alerts(self) -> Expectation:
        if self.runbook is not None and not self.alerts:
            raise ValueError("list at least one alert the runbook responds to (or set runbook: null)")
        if len(set(self.alerts)) != len(self.alerts):
            raise ValueError("alerts are listed more than once")
        return self


class LoadShape(StrEnum):
    STEADY = "steady"
    SPIKE = "spike"
    RAMP = "ramp"
    SOAK = "soak"


class LoadSettings(StrictModel):
    profile: Identifier = "demo_users"
    shape: LoadShape = LoadShape.STEADY
    users: Annotated[int, Field(ge=1, le=10_000)] = 10
    spawn_rate: Annotated[FiniteFloat, Field(gt=0)] = 10.0
    rate: Annotated[FiniteFloat, Field(gt=0)] | None = None
    workers: Annotated[int, Field(ge=0, le=64)] = 0
    locustfile: Annotated[str, Field(min_length=1)] | None = None


class StopConditions(StrictModel):
    """Blast radius: the drill is aborted (and everything reverted) beyond any of these."""

    max_error_ratio: Annotated[Ratio, Field(gt=0.0)] | None = None
    max_failed_requests: Annotated[int, Field(ge=0)] | None = None
    max_duration_seconds: Seconds = 900.0


class SafetySettings(StrictModel):
    """Opt-in to touch hosts beyond loopback and the stack (also needs ``--allow-remote``)."""

    allow_remote: bool = False
    allow_hosts: list[HostName] = Field(default_factory=list)


class ScenarioThresholds(Thresholds):
    """:class:`harness.drill.results.Thresholds` with durations checked positive and finite."""

    max_mttd_seconds: Seconds | None = None
    max_mttn_seconds: Seconds | None = None
    max_mttr_seconds: Seconds | None = None
    rollback_required: bool = True
    max_lost_writes: Annotated[int, Field(ge=0)] = 0

    def plain(self) -> Thresholds:
        """The same figures as the base class (for results.json)."""
        return Thresholds.model_validate(self.model_dump())


# --- the scenario ------------------------------------------------------------------------------------


class Scenario(StrictModel):
    name: Slug
    description: Annotated[str, Field(min_length=1)]
    schedule: Schedule
    severity: SeverityField
    tags: list[Tag] = Field(default_factory=list)
    target: Target = Field(default_factory=Target)
    steady_state: list[SteadyStateCheck] = Field(default_factory=list)
    fault: FaultSpec
    expect: Expectation
    recovery: Recovery
    load: LoadSettings | None = None
    thresholds: ScenarioThresholds = Field(default_factory=ScenarioThresholds)
    stop_conditions: StopConditions = Field(default_factory=StopConditions)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    rto_seconds: Seconds | None = None
    rpo_seconds: NonNegativeSeconds | None = None

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.expect.runbook is None and self.stop_conditions.max_duration_seconds <= (
            self.fault.max_duration_seconds
        ):
            raise ValueError(
                "with a manual response (runbook: null) the fault runs for fault.max_duration_seconds, so "
                "stop_conditions.max_duration_seconds must be longer"
            )
        return self

    @property
    def manual(self) -> bool:
        """No runbook responds: the fault is reverted after ``fault.max_duration_seconds``."""
        return self.expect.runbook is None

    @property
    def source(self) -> Path | None:
        """The file this scenario was loaded from (None when built in code)."""
        return self._source

    def with_source(self, path: Path) -> Scenario:
        self._source = path
        return self

    def resolve(self, relative: str) -> Path:
        """A path written in the scenario (e.g. ``load.locustfile``), relative to the scenario's file."""
        path = Path(relative)
        if path.is_absolute() or self._source is None:
            return path
        return self._source.parent / path

    def fault_hosts(self) -> list[str]:
        """Every host the drill would touch: the target, HTTP checks' URLs, hosts in fault params."""
        hosts: set[str] = set()
        if self.target.host is not None:
            hosts.add(self.target.host)
        for check in self.steady_state:
            if check.http is not None and check.http.url is not None:
                host = host_of_url(check.http.url)
                if host:
                    hosts.add(host)
        hosts.update(hosts_in_params(self.fault.params))
        return sorted(hosts)
