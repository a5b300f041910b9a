"""The runbook file format (``scenarios/runbooks/*.yaml``) as pydantic models.

A runbook is an ordered list of steps with a trigger (alert name plus label
matchers), a severity, an expected recovery time, an automation level, and two
extra step lists: ``rollback`` (run when a step fails, chaostoolkit-style, always
to the end) and ``restore`` (run when the triggering alert resolves). Steps are a
discriminated union on ``kind``. String fields of steps are jinja2 templates,
rendered in a sandbox at run time (see :mod:`harness.runbooks.templating`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.compare import Comparison
from harness.severity import SeverityField
from harness.stack.base import Service, ServiceAction, ServiceStatus

ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"


class AutomationLevel(StrEnum):
    AUTOMATIC = "automatic"
    SEMI_AUTOMATIC = "semi_automatic"
    MANUAL = "manual"


class Phase(StrEnum):
    DETECT = "detect"
    DIAGNOSE = "diagnose"
    MITIGATE = "mitigate"
    RECOVER = "recover"
    REVIEW = "review"


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


_MATCHER_RE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


class LabelMatcher(BaseModel):
    """One Alertmanager-style matcher; written in YAML as ``'label="value"'`` (or =~, !=, !~)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    op: MatchOp
    value: str

    @model_validator(mode="before")
    @classmethod
    def _parse_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _MATCHER_RE.match(data)
            if match is None:
                raise ValueError(f'matcher {data!r} is not of the form label="value" (ops: = != =~ !~)')
            label, op, value = match.groups()
            return {"label": label, "op": op, "value": value.replace('\\"', '"')}
        return data

    @model_validator(mode="after")
    def _check_regex(self) -> LabelMatcher:
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {self.value!r}: {exc}") from exc
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None  # anchored, like Prometheus
        return hit if self.op is MatchOp.RE else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op.value}"{self.value}"'


class Trigger(BaseModel):
    """Start the runbook when alert ``alert`` fires with labels matching every matcher."""

    model_config = ConfigDict(extra="forbid")

    alert: str = Field(min_length=1)
    matchers: list[LabelMatcher] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        return labels.get("alertname") == self.alert and all(m.matches(labels) for m in self.matchers)


class StepBase(BaseModel):
    """Fields every step kind shares."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    phase: Phase | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    retries: int = Field(default=0, ge=0, le=20)
    retry_delay_s: float = Field(default=1.0, ge=0, le=600)
    continue_on_failure: bool = False


class HttpStep(StepBase):
    """An HTTP request. ``url`` may be absolute or ``<service>:/path`` (``target:/admin/state``,
    ``prometheus:/api/v1/query``, ``fault_proxy:/routes``); ``target:`` URLs go to the target
    directly (bypassing the fault proxy) and carry the admin bearer token."""

    kind: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])

    @model_validator(mode="after")
    def _one_body(self) -> HttpStep:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either body or json, not both")
        return self


class ShellStep(StepBase):
    """A command as an argv list (never a shell string). The child sees only PATH, the
    variables named in ``env_allow`` (from the harness's environment) and ``env``."""

    kind: Literal["shell"]
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    env_allow: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = Field(default_factory=list)
    cwd: str | None = None
    expect_exit: list[int] = Field(default_factory=lambda: [0])

    @field_validator("argv", mode="before")
    @classmethod
    def _no_shell_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("argv must be a list of arguments, not a shell string")
        return value


class FlagStep(StepBase):
    """Set one of the target's feature flags, or restore it to its value before the runbook."""

    kind: Literal["flag"]
    flag: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    enabled: bool | None = None
    restore: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> FlagStep:
        if (self.enabled is None) == (not self.restore):
            raise ValueError("give exactly one of enabled: true|false or restore: true")
        return self


class BreakerStep(StepBase):
    """Force one of the target's circuit breakers open/closed, or restore its earlier state."""

    kind: Literal["breaker"]
    breaker: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    action: Literal["open", "close", "restore"]


class RulesRollbackStep(StepBase):
    """Roll the target's pricing rules back to the previous distinct version (or ``to_version``)."""

    kind: Literal["rules_rollback"]
    to_version: int | None = Field(default=None, ge=1)


class ServiceStep(StepBase):
    """A process-control action through the Stack interface, optionally only when the
    service is currently in one of ``only_if_status``."""

    kind: Literal["service"]
    service: Service
    action: ServiceAction
    only_if_status: list[ServiceStatus] | None = None


class MemoryLimitStep(StepBase):
    """Give a service more (or less) memory headroom through the Stack interface, live — like raising
    a pod's limit: ``memory_limit_mb`` absolute, ``scale`` relative to the current limit, or
    ``restore`` to the limit before the runbook."""

    kind: Literal["memory_limit"]
    service: Service
    memory_limit_mb: int | None = Field(default=None, ge=16, le=1 << 20)
    scale: float | None = Field(default=None, gt=0, le=16, allow_inf_nan=False)
    restore: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> MemoryLimitStep:
        given = [self.memory_limit_mb is not None, self.scale is not None, self.restore]
        if sum(given) != 1:
            raise ValueError("give exactly one of memory_limit_mb, scale or restore: true")
        return self


class PromCondition(BaseModel):
    """Holds when the PromQL query returns a scalar ``op value`` (no result: does not hold)."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    op: Comparison = Comparison.EQ
    value: float


class HttpProbe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    expect_status: list[int] = Field(default_factory=lambda: [200])


class WaitForStep(StepBase):
    """Poll a PromQL condition or an HTTP probe until it holds (for ``hold_s`` if given)."""

    kind: Literal["wait_for"]
    promql: PromCondition | None = None
    http: HttpProbe | None = None
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    hold_s: float = Field(default=0.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitForStep:
        if (self.promql is None) == (self.http is None):
            raise ValueError("give exactly one of promql or http")
        if self.hold_s >= self.timeout_s:
            raise ValueError("hold_s must be shorter than timeout_s")
        return self


class ConfirmStep(StepBase):
    """A manual gate. Drills auto-approve it (and record the approval); strict mode refuses it."""

    kind: Literal["confirm"]
    prompt: str = Field(min_length=1)


class NotifyStep(StepBase):
    """Post ``{"text": ...}`` (Slack format) to the named webhook of the run context."""

    kind: Literal["notify"]
    webhook: str = Field(min_length=1)
    text: str = Field(min_length=1)


class IncidentStep(StepBase):
    """Open, annotate or resolve the run's incident record (with a timeline)."""

    kind: Literal["incident"]
    action: Literal["open", "note", "resolve"]
    title: str | None = None
    severity: SeverityField | None = None
    message: str = ""

    @model_validator(mode="after")
    def _title_to_open(self) -> IncidentStep:
        if self.action == "open" and not self.title:
            raise ValueError("an incident open step needs a title")
        return self


Step = Annotated[
    HttpStep
    | ShellStep
    | FlagStep
    | BreakerStep
    | RulesRollbackStep
    | ServiceStep
    | MemoryLimitStep
    | WaitForStep
    | ConfirmStep
    | NotifyStep
    | IncidentStep,
    Field(discriminator="kind"),
]


class Section(StrEnum):
    STEPS = "steps"
    ROLLBACK = "rollback"
    RESTORE = "restore"


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = ""
    severity: SeverityField
    automation: AutomationLevel
    expected_recovery_seconds: float = Field(gt=0)
    triggers: list[Trigger] = Field(default_factory=list)
    secrets: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = Field(default_factory=list)
    owner: str = ""
    steps: list[Step] = Field(min_length=1)
    rollback: list[Step] = Field(default_factory=list)
    restore: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Runbook:
        seen: set[str] = set()
        for step in [*self.steps, *self.rollback, *self.restore]:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice (ids are unique across all sections)")
            seen.add(step.id)
        return self

    def section(self, section: Section) -> list[Step]:
        return {Section.STEPS: self.steps, Section.ROLLBACK: self.rollback, Section.RESTORE: self.restore}[
            section
        ]

    def matches(self, labels: dict[str, str]) -> bool:
        return any(t.matches(labels) for t in self.triggers)
