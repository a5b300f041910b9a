"""The ``fault`` section: a kind from harness.faults.registry, params checked against its ``Params``."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from harness.errors import HarnessError
from harness.scenarios.durations import Seconds
from harness.scenarios.fields import Identifier, StrictModel

MAX_FAULT_SECONDS = 3600.0


def _fault_registry() -> ModuleType | None:
    """harness.faults.registry, or None while that module does not exist yet."""
    name = "harness.faults.registry"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in ("harness.faults", name):
            return None
        raise ValueError(f"cannot check fault kinds: {name} failed to import ({exc})") from exc
    except Exception as exc:  # a broken registry is a located problem, not a traceback
        problem = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"cannot check fault kinds: {name} failed to import ({problem})") from exc


class FaultSpec(StrictModel):
    kind: Identifier
    params: dict[str, Any] = Field(default_factory=dict)
    max_duration_seconds: Annotated[Seconds, Field(le=MAX_FAULT_SECONDS)]

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        fault_params_model(kind)
        return kind

    @field_validator("params")
    @classmethod
    def _params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind is not None:
            model = fault_params_model(kind)
            if model is not None:
                model.model_validate(params)  # a ValidationError nests under fault.params
        return params

    def typed_params(self) -> BaseModel | None:
        """The params validated into the fault kind's ``Params`` model (None without a registry)."""
        model = fault_params_model(self.kind)
        return None if model is None else model.model_validate(self.params)


def fault_params_model(kind: str) -> type[BaseModel] | None:
    """``fault_type(kind).Params``; ValueError for an unknown kind; None when no registry exists yet."""
    registry = _fault_registry()
    if registry is None:
        return None
    try:
        fault_cls = registry.fault_type(kind)
    except (LookupError, ValueError, HarnessError) as exc:
        known = _known_kinds(registry)
        hint = f"; known kinds: {', '.join(known)}" if known else ""
        raise ValueError(f"unknown fault kind {kind!r}{hint}") from exc
    params = getattr(fault_cls, "Params", None)
    if isinstance(params, type) and issubclass(params, BaseModel):
        return params
    return None


def _known_kinds(registry: ModuleType) -> list[str]:
    for name in ("fault_kinds", "known_kinds", "kinds"):
        lister = getattr(registry, name, None)
        if callable(lister):
            try:
                return sorted(str(k) for k in lister())
            except Exception:  # a broken lister must not hide the real problem
                return []
    return []
