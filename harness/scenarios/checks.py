"""Steady-state checks and recovery criteria (SLO conditions that must hold continuously)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from harness.compare import Comparison
from harness.scenarios.durations import FiniteFloat, Seconds
from harness.scenarios.fields import Ratio, StrictModel, UrlPath, http_url, one_of


class PromqlCheck(StrictModel):
    """Holds when the query returns a scalar ``op value`` (no result: does not hold)."""

    query: Annotated[str, Field(min_length=1, max_length=4096)]
    op: Comparison
    value: FiniteFloat


def _status_list(value: Any) -> Any:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class HttpCheck(StrictModel):
    """An HTTP GET against the target (``path``) or any URL (``url``, allow-listed like fault hosts)."""

    path: UrlPath | None = None
    url: str | None = None
    expect_status: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]], BeforeValidator(_status_list), Field(min_length=1)
    ] = Field(default_factory=lambda: [200])
    timeout_s: Seconds = 2.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @model_validator(mode="after")
    def _one(self) -> HttpCheck:
        one_of(self, ("path", "url"))
        return self


class SteadyStateCheck(StrictModel):
    """One check, written as ``- promql: {...}`` or ``- http: {...}``."""

    promql: PromqlCheck | None = None
    http: HttpCheck | None = None

    @model_validator(mode="after")
    def _one(self) -> SteadyStateCheck:
        one_of(self, ("promql", "http"))
        return self


class ErrorRatioCriterion(StrictModel):
    """Failed / all requests over ``window_seconds`` at most ``max`` (0.01 = 1 %)."""

    max: Ratio
    window_seconds: Seconds = 30.0


class P95LatencyCriterion(StrictModel):
    max_seconds: Seconds
    window_seconds: Seconds = 30.0


class ReadyCriterion(StrictModel):
    """The target's ready endpoint answers 200."""


class RecoveryCriterion(StrictModel):
    """One SLO condition, written as ``- error_ratio: {...}``, ``- p95_latency: {...}``, ``- ready: {}``
    or ``- promql: {...}``."""

    error_ratio: ErrorRatioCriterion | None = None
    p95_latency: P95LatencyCriterion | None = None
    ready: ReadyCriterion | None = None
    promql: PromqlCheck | None = None

    @model_validator(mode="after")
    def _one(self) -> RecoveryCriterion:
        one_of(self, ("error_ratio", "p95_latency", "ready", "promql"))
        return self


class Recovery(StrictModel):
    """Recovered when every criterion holds continuously for ``hold_seconds``, within ``timeout_seconds``."""

    criteria: list[RecoveryCriterion] = Field(min_length=1)
    hold_seconds: Seconds
    timeout_seconds: Seconds

    @model_validator(mode="after")
    def _hold_fits(self) -> Recovery:
        if self.hold_seconds >= self.timeout_seconds:
            raise ValueError(f"hold_seconds ({self.hold_seconds:g}) must be less than "
                             f"timeout_seconds ({self.timeout_seconds:g})")
        return self
