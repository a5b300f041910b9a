"""Toxics of the fault proxy: their wire format, validation and runtime state.

A toxic is what the proxy does to traffic on one route: delay it, throttle it,
swallow it, reset the connection, delay the close, or (HTTP mode) answer with
an error instead of the upstream. Every toxic carries a ``toxicity`` (the
fraction of connections — or, for HTTP, of requests — it applies to) and a
``ttl_seconds`` after which the proxy itself removes it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError

MAX_TTL_SECONDS = 24 * 3600.0


PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False)]
NonNegativeMs = Annotated[float, Field(ge=0, le=3_600_000, allow_inf_nan=False)]


class Direction(StrEnum):
    """``upstream``: client → service; ``downstream``: service → client."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


class ToxicType(StrEnum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    SLOW_CLOSE = "slow_close"
    HTTP_ERROR = "http_error"


class _Attrs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencyAttrs(_Attrs):
    latency_ms: NonNegativeMs
    jitter_ms: NonNegativeMs = 0.0
    direction: Direction = Direction.DOWNSTREAM


class BandwidthAttrs(_Attrs):
    rate_kbps: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    direction: Direction = Direction.DOWNSTREAM


class TimeoutAttrs(_Attrs):
    """Swallow data; close the connection after ``timeout_ms`` (0: hold it open forever)."""

    timeout_ms: NonNegativeMs = 0.0
    direction: Direction = Direction.BOTH


class ResetPeerAttrs(_Attrs):
    """Reset (TCP RST) connections ``timeout_ms`` after they are seen."""

    timeout_ms: NonNegativeMs = 0.0


class SlowCloseAttrs(_Attrs):
    delay_ms: NonNegativeMs


def _compiles(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


Regex = Annotated[str | None, AfterValidator(_compiles)]
"""An optional regular expression, checked to compile at load time."""


class HttpErrorAttrs(_Attrs):
    status: Annotated[int, Field(ge=400, le=599)] = 503
    path_regex: Regex = None
    methods: list[str] | None = None
    message: str = "injected by the drill fault proxy"

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [m.upper() for m in value]


ATTRIBUTE_MODELS: dict[ToxicType, type[_Attrs]] = {
    ToxicType.LATENCY: LatencyAttrs,
    ToxicType.BANDWIDTH: BandwidthAttrs,
    ToxicType.TIMEOUT: TimeoutAttrs,
    ToxicType.RESET_PEER: ResetPeerAttrs,
    ToxicType.SLOW_CLOSE: SlowCloseAttrs,
    ToxicType.HTTP_ERROR: HttpErrorAttrs,
}

TCP_TOXICS = frozenset(
    {ToxicType.LATENCY, ToxicType.BANDWIDTH, ToxicType.TIMEOUT, ToxicType.RESET_PEER, ToxicType.SLOW_CLOSE}
)
HTTP_TOXICS = frozenset({ToxicType.LATENCY, ToxicType.HTTP_ERROR})


class ToxicSpec(BaseModel):
    """Body of ``POST /routes/{name}/toxics``. ``id`` is optional (chosen by the proxy if absent)."""

    model_config = ConfigDict(extra="forbid")

    type: ToxicType
    toxicity: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0
    ttl_seconds: PositiveSeconds
    attributes: dict[str, Any] = Field(default_factory=dict)
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None


def parse_toxic(body: object, mode: Literal["http", "tcp"]) -> tuple[ToxicSpec, _Attrs]:
    """Validate a toxic request for a route in ``mode``; ConfigError lists every problem."""
    try:
        spec = ToxicSpec.model_validate(body)
        attrs = ATTRIBUTE_MODELS[spec.type].model_validate(spec.attributes)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigError("invalid toxic", problems) from exc
    allowed = HTTP_TOXICS if mode == "http" else TCP_TOXICS
    if spec.type not in allowed:
        raise ConfigError(
            f"toxic {spec.type.value!r} is not available on a {mode} route "
            f"(available: {', '.join(sorted(t.value for t in allowed))})"
        )
    return spec, attrs


@dataclass
class ActiveToxic:
    """A toxic installed on a route. ``expires_at`` is on the proxy's event-loop clock."""

    id: str
    spec: ToxicSpec
    attrs: _Attrs
    expires_at: float
    rng: random.Random = field(default_factory=random.Random)

    @property
    def type(self) -> ToxicType:
        return self.spec.type

    def applies(self, direction: Direction) -> bool:
        wanted = getattr(self.attrs, "direction", Direction.BOTH)
        return bool(wanted == Direction.BOTH or wanted == direction)

    def roll(self) -> bool:
        """One toxicity draw."""
        toxicity = self.spec.toxicity
        return toxicity >= 1.0 or (toxicity > 0.0 and self.rng.random() < toxicity)

    def delay_seconds(self) -> float:
        attrs = self.attrs
        assert isinstance(attrs, LatencyAttrs)
        jitter = self.rng.uniform(-attrs.jitter_ms, attrs.jitter_ms) if attrs.jitter_ms else 0.0
        return max(0.0, attrs.latency_ms + jitter) / 1000.0

    def matches_request(self, method: str, path: str) -> bool:
        attrs = self.attrs
        assert isinstance(attrs, HttpErrorAttrs)
        if attrs.methods is not None and method.upper() not in attrs.methods:
            return False
        return attrs.path_regex is None or re.search(attrs.path_regex, path) is not None

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "toxicity": self.spec.toxicity,
            "ttl_seconds": self.spec.ttl_seconds,
            "remaining_seconds": round(max(0.0, self.expires_at - now), 3),
            "attributes": self.attrs.model_dump(mode="json"),
        }


@dataclass
class ConnectionDraws:
    """Per-connection toxicity decisions (TCP toxicity is drawn once per connection and toxic)."""

    decided: dict[str, bool] = field(default_factory=dict)

    def hit(self, toxic: ActiveToxic) -> bool:
        decision = self.decided.get(toxic.id)
        if decision is None:
            decision = self.decided[toxic.id] = toxic.roll()
        return decision


__all__ = [
    "ATTRIBUTE_MODELS",
    "ActiveToxic",
    "BandwidthAttrs",
    "ConnectionDraws",
    "Direction",
    "HttpErrorAttrs",
    "LatencyAttrs",
    "ResetPeerAttrs",
    "SlowCloseAttrs",
    "TimeoutAttrs",
    "ToxicSpec",
    "ToxicType",
    "parse_toxic",
]
