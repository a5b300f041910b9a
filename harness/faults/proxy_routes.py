"""The fault proxy's configuration file and its routes' runtime state.

Config (JSON, see docs/ARCHITECTURE.md "Fault proxy")::

    {"admin": {"host": "127.0.0.1", "port": N},
     "routes": [{"name": "target", "mode": "http", "listen": {...}, "upstream": {...}}]}

Every address must be loopback: the proxy never listens on, nor forwards to,
anything outside this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError
from harness.faults.toxics import ActiveToxic, ToxicType, parse_toxic


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)]

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError(f"{value!r} is not a loopback address; the fault proxy is loopback only")
        return value


class RouteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    mode: Literal["http", "tcp"]
    listen: Address
    upstream: Address

    @field_validator("upstream")
    @classmethod
    def _upstream_port(cls, value: Address) -> Address:
        if value.port == 0:
            raise ValueError("the upstream port must be set")
        return value


class ProxyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: Address
    routes: list[RouteConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ProxyConfig:
        names = [r.name for r in self.routes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate route names: {', '.join(duplicates)}")
        return self


def load_config(path: Path) -> ProxyConfig:
    """Read and validate a proxy config file; ConfigError lists every problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read proxy config {path}: {exc}") from exc
    return validate_config(raw, source=str(path))


def validate_config(raw: object, source: str = "proxy config") -> ProxyConfig:
    try:
        return ProxyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{source}: {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError(f"invalid proxy config {source}", problems) from exc


class Route:
    """One proxied route: its toxics (each removed by a timer at its TTL) and live connections."""

    def __init__(self, config: RouteConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.name = config.name
        self.mode = config.mode
        self.loop = loop
        self.toxics: dict[str, ActiveToxic] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.listen_port: int = config.listen.port
        # callbacks run when a toxic is added (TCP connections react to reset/timeout at once)
        self.on_added: set[Callable[[ActiveToxic], None]] = set()

    def add(self, body: object) -> ActiveToxic:
        spec, attrs = parse_toxic(body, self.mode)
        toxic_id = spec.id or uuid.uuid4().hex[:12]
        if toxic_id in self.toxics:
            raise ConfigError(f"route {self.name!r} already has a toxic with id {toxic_id!r}")
        now = self.loop.time()
        toxic = ActiveToxic(id=toxic_id, spec=spec, attrs=attrs, expires_at=now + spec.ttl_seconds)
        self.toxics[toxic_id] = toxic
        self._timers[toxic_id] = self.loop.call_later(spec.ttl_seconds, self.remove, toxic_id)
        for callback in list(self.on_added):
            callback(toxic)
        return toxic

    def remove(self, toxic_id: str) -> bool:
        timer = self._timers.pop(toxic_id, None)
        if timer is not None:
            timer.cancel()
        return self.toxics.pop(toxic_id, None) is not None

    def clear(self) -> int:
        count = len(self.toxics)
        for toxic_id in list(self.toxics):
            self.remove(toxic_id)
        return count

    def of_type(self, kind: ToxicType) -> list[ActiveToxic]:
        return [t for t in self.toxics.values() if t.type == kind]

    def describe(self) -> dict[str, Any]:
        now = self.loop.time()
        return {
            "name": self.name,
            "mode": self.mode,
            "listen": {"host": self.config.listen.host, "port": self.listen_port},
            "upstream": self.config.upstream.model_dump(),
            "toxics": [t.describe(now) for t in self.toxics.values()],
        }
