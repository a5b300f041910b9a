"""Faults carried out by the fault proxy: latency, and HTTP errors on the target route.

The toxic id is derived from the fault id, so a fault rebuilt from the ledger
can remove its toxic even if the harness died before learning the id. The
toxic also carries the fault's TTL, so the proxy removes it on its own.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from harness.faults.base import Fault, FaultContext, FaultParams, FaultState
from harness.faults.toxics import Direction, Regex

Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Millis = Annotated[float, Field(ge=0, le=600_000, allow_inf_nan=False)]


class _ProxyFault(Fault):
    route: ClassVar[str] = "target"

    @property
    def toxic_id(self) -> str:
        return f"fault-{self.id}"

    def _route(self) -> str:
        return str(getattr(self.params, "route", self.route))

    def _revert(self, ctx: FaultContext) -> None:
        ctx.proxy().remove_toxic(self._route(), self.toxic_id)  # False when already gone: fine

    def _probe(self, ctx: FaultContext) -> FaultState | None:
        toxics = ctx.proxy().toxics(self._route())
        return None if any(t["id"] == self.toxic_id for t in toxics) else FaultState.EXPIRED


class LatencyFault(_ProxyFault):
    """Added latency on the path to the target, or from the target to Redis/Postgres."""

    kind = "latency"

    class Params(FaultParams):
        route: Literal["target", "redis", "postgres"] = "target"
        latency_ms: Annotated[float, Field(gt=0, le=600_000, allow_inf_nan=False)]
        jitter_ms: Millis = 0.0
        toxicity: Fraction = 1.0
        direction: Direction = Direction.DOWNSTREAM

    params: Params

    def _inject(self, ctx: FaultContext) -> None:
        p = self.params
        ctx.proxy().add_toxic(
            p.route,
            "latency",
            ttl_seconds=p.ttl_seconds,
            toxicity=p.toxicity,
            toxic_id=self.toxic_id,
            attributes={"latency_ms": p.latency_ms, "jitter_ms": p.jitter_ms, "direction": p.direction.value},
        )


class HttpErrorsFault(_ProxyFault):
    """A fraction of the target's requests answered with ``status`` by the proxy."""

    kind = "http_errors"

    class Params(FaultParams):
        status: Annotated[int, Field(ge=400, le=599)] = 503
        fraction: Fraction = 0.5
        path_regex: Regex = None
        method: str | None = None

    params: Params

    def _inject(self, ctx: FaultContext) -> None:
        p = self.params
        attributes: dict[str, object] = {"status": p.status}
        if p.path_regex is not None:
            attributes["path_regex"] = p.path_regex
        if p.method is not None:
            attributes["methods"] = [p.method.upper()]
        ctx.proxy().add_toxic(
            "target",
            "http_error",
            ttl_seconds=p.ttl_seconds,
            toxicity=p.fraction,
            toxic_id=self.toxic_id,
            attributes=attributes,
        )
