"""Render prometheus.yml and alertmanager.yml from the jinja2 templates in fixtures/.

Both stack backends render through these functions, so the local and the
Docker stack run the same rules, routes and inhibitions. Durations are given
in float seconds and rendered as Prometheus durations (``1s``, ``500ms``).
Templates use ``StrictUndefined``: a missing variable is an error, never an
empty string.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jinja2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.errors import ConfigError
from harness.paths import fixtures_dir

RULES_DIR: Path = fixtures_dir() / "prometheus" / "rules"
PROMETHEUS_TEMPLATE: Path = fixtures_dir() / "prometheus" / "prometheus.yml.j2"
ALERTMANAGER_TEMPLATE: Path = fixtures_dir() / "alertmanager" / "alertmanager.yml.j2"

ALERTMANAGER_ROUTE = "/alertmanager"
"""The receiver route Alertmanager posts to (appended to ``AlertmanagerConfig.receiver_url``)."""

_MAX_DURATION_S = 365 * 24 * 3600.0


def format_duration(seconds: float) -> str:
    """``1.0`` -> ``"1s"``, ``0.5`` -> ``"500ms"``, ``3600`` -> ``"1h"``. Millisecond resolution."""
    if not math.isfinite(seconds) or seconds <= 0 or seconds > _MAX_DURATION_S:
        raise ConfigError(f"duration must be a positive number of seconds (at most a year), got {seconds!r}")
    millis = round(seconds * 1000)
    if millis == 0:
        raise ConfigError(f"duration {seconds!r}s is below the 1 ms resolution of Prometheus durations")
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _positive(value: float) -> float:
    try:
        format_duration(value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


class PrometheusConfig(BaseModel):
    """What ``prometheus.yml`` needs. Addresses are ``host:port`` (no scheme)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scrape_interval_s: float = 1.0
    evaluation_interval_s: float = 1.0
    target_address: str
    alertmanager_address: str
    rule_files: list[str] = Field(default_factory=lambda: [str(RULES_DIR / "*.yml")])
    external_labels: dict[str, str] = Field(default_factory=dict)
    prometheus_address: str | None = None
    """When set, Prometheus also scrapes itself (job ``prometheus``)."""
    ingress_address: str | None = None
    """When set, Prometheus scrapes the fault proxy's ingress metrics (job ``ingress``)."""
    scrape_timeout_s: float | None = None
    """Defaults to the scrape interval (Prometheus refuses a timeout above the interval)."""

    @field_validator("scrape_interval_s", "evaluation_interval_s")
    @classmethod
    def _check_interval(cls, value: float) -> float:
        return _positive(value)

    @field_validator("target_address", "alertmanager_address", "prometheus_address", "ingress_address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else _host_port(value)

    @field_validator("scrape_timeout_s")
    @classmethod
    def _check_timeout(cls, value: float | None) -> float | None:
        return None if value is None else _positive(value)


class AlertmanagerConfig(BaseModel):
    """What ``alertmanager.yml`` needs.

    ``receiver_url`` is the receiver's base URL (``http://127.0.0.1:PORT``);
    Alertmanager posts to ``{receiver_url}/alertmanager``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    receiver_url: str
    credentials_file: str
    group_wait_s: float = 0.5
    group_interval_s: float = 1.0
    repeat_interval_s: float = 3600.0
    resolve_timeout_s: float = 300.0

    @field_validator("group_wait_s", "group_interval_s", "repeat_interval_s", "resolve_timeout_s")
    @classmethod
    def _check_duration(cls, value: float) -> float:
        return _positive(value)

    @field_validator("receiver_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"receiver_url must be an http(s) URL, got {value!r}")
        # The receiver's base URL; the template appends the route. A URL that
        # already names the route is accepted too (never ".../alertmanager/alertmanager").
        base = value.rstrip("/")
        return base.removesuffix(ALERTMANAGER_ROUTE).rstrip("/") or base


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(fixtures_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = format_duration
    # JSON strings are valid YAML double-quoted scalars: safe for any value.
    env.filters["yaml_str"] = lambda value: json.dumps(str(value))
    return env


def _render(template: Path, **variables: object) -> str:
    name = template.relative_to(fixtures_dir()).as_posix()
    try:
        return _environment().get_template(name).render(**variables)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"cannot render {template}: {exc}") from exc


def render_prometheus_config(cfg: PrometheusConfig) -> str:
    scrape_timeout = cfg.scrape_timeout_s or cfg.scrape_interval_s
    if scrape_timeout > cfg.scrape_interval_s:
        raise ConfigError("scrape_timeout_s must not exceed scrape_interval_s")
    return _render(PROMETHEUS_TEMPLATE, cfg=cfg, scrape_timeout_s=scrape_timeout)


def render_alertmanager_config(cfg: AlertmanagerConfig) -> str:
    return _render(ALERTMANAGER_TEMPLATE, cfg=cfg, webhook_url=cfg.receiver_url + ALERTMANAGER_ROUTE)
