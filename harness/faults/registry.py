"""Fault kinds by name, so scenarios can name a kind and its parameters in YAML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from harness.errors import ConfigError
from harness.faults.base import FakeFault, Fault, FaultParams
from harness.faults.kinds_postgres import PostgresLossFault, PostgresPoolExhaustionFault
from harness.faults.kinds_process import CpuStarvationFault, ProcessPauseFault, RedisLossFault
from harness.faults.kinds_proxy import HttpErrorsFault, LatencyFault
from harness.faults.kinds_target import BadRulesDeployFault, OomKillFault

FAULT_TYPES: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (
        LatencyFault, HttpErrorsFault, RedisLossFault, PostgresLossFault, PostgresPoolExhaustionFault,
        OomKillFault, BadRulesDeployFault, ProcessPauseFault, CpuStarvationFault,
    )
}
"""The real fault kinds. ``fake`` (:class:`FakeFault`) is registered only for tests."""

_TEST_TYPES: dict[str, type[Fault]] = {FakeFault.kind: FakeFault}


def known_kinds() -> list[str]:
    return sorted(FAULT_TYPES)


def fault_type(kind: str) -> type[Fault]:
    """The class of fault ``kind``; ConfigError naming the known kinds otherwise."""
    cls = FAULT_TYPES.get(kind) or _TEST_TYPES.get(kind)
    if cls is None:
        raise ConfigError(f"unknown fault kind {kind!r}; known kinds: {', '.join(known_kinds())}")
    return cls


def validate_params(kind: str, params: Mapping[str, Any], *, where: str = "params") -> FaultParams:
    """Validate ``params`` for ``kind``; every problem is one line ``where.field: message``."""
    cls = fault_type(kind)
    try:
        return cls.Params.model_validate(dict(params))
    except ValidationError as exc:
        problems = [
            f"{'.'.join([where, *(str(p) for p in err['loc'])])}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigError(f"invalid parameters for fault {kind!r}", problems) from exc


def build_fault(kind: str, params: Mapping[str, Any], *, fault_id: str | None = None) -> Fault:
    """A ready-to-inject fault of ``kind`` with validated ``params``."""
    return fault_type(kind)(validate_params(kind, params), fault_id=fault_id)
