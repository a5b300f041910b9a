"""What the Docker stack looks like: compose services, ports, settings, container state.

Pure data and parsing of ``docker inspect`` / ``docker events`` output, kept
apart from :mod:`harness.stack.docker` (the behaviour) so both stay small.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import BackendUnavailable, StackError
from harness.paths import repo_root
from harness.stack.base import Credentials, Endpoint, Service

LOOPBACK = "127.0.0.1"
POD = "pod"
"""The compose service that owns the network namespace and publishes every port."""

COMPOSE_SERVICES: dict[Service, str] = {
    Service.FAULT_PROXY: "fault-proxy",
    Service.REDIS: "redis",
    Service.POSTGRES: "postgres",
    Service.TARGET: "target",
    Service.ALERTMANAGER: "alertmanager",
    Service.PROMETHEUS: "prometheus",
    Service.GRAFANA: "grafana",
}
# container port on the pod that Stack.endpoint() resolves to (proxied where there is a proxy route)
PUBLISHED_PORTS: dict[Service, int] = {
    Service.PROMETHEUS: 9090,
    Service.ALERTMANAGER: 9093,
    Service.GRAFANA: 3000,
    Service.FAULT_PROXY: 28474,
    Service.TARGET: 28080,
    Service.REDIS: 26379,
    Service.POSTGRES: 25432,
}
DIRECT_PORTS: dict[Service, int] = {Service.TARGET: 8080, Service.REDIS: 6379, Service.POSTGRES: 5432}
# DRILL_*_PORT variables of docker-compose.yml that DockerSettings.host_ports may set
PORT_VARIABLES = {
    "grafana": "DRILL_GRAFANA_PORT",
    "prometheus": "DRILL_PROMETHEUS_PORT",
    "alertmanager": "DRILL_ALERTMANAGER_PORT",
    "target": "DRILL_TARGET_PORT",
    "fault_proxy": "DRILL_PROXY_ADMIN_PORT",
    "redis": "DRILL_PROXY_REDIS_PORT",
    "postgres": "DRILL_PROXY_POSTGRES_PORT",
    "target_direct": "DRILL_TARGET_DIRECT_PORT",
    "redis_direct": "DRILL_REDIS_DIRECT_PORT",
    "postgres_direct": "DRILL_POSTGRES_DIRECT_PORT",
}
CONTAINER_RULES_DIR = "/etc/prometheus/rules"
CONTAINER_TOKEN_FILE = "/etc/alertmanager/config/receiver-token"
HOST_GATEWAY_NAME = "host.docker.internal"


@dataclass
class DockerSettings:
    """Everything configurable about a Docker stack. Defaults mirror LocalSettings."""

    run_dir: Path
    project: str = "chaos-drill"
    compose_file: Path = field(default_factory=lambda: repo_root() / "docker-compose.yml")
    config_dir: Path | None = None
    """Rendered configs + compose.env; default ``<run_dir>/docker-config``."""
    scrape_interval_s: float = 1.0
    evaluation_interval_s: float = 1.0
    group_wait_s: float = 0.5
    group_interval_s: float = 1.0
    repeat_interval_s: float = 3600.0
    resolve_timeout_s: float = 5.0
    target_memory_limit_mb: int = 256
    target_rate_limit_rps: int = 500
    host_ports: dict[str, int] = field(default_factory=dict)
    """Fixed host ports by PORT_VARIABLES key; unset ones use the compose defaults/ephemeral ports."""
    receiver_host: str | None = None
    """Where the host-side webhook receiver binds; default: the Docker bridge gateway (see docs/docker.md)."""
    ready_timeout_s: float = 180.0
    compose_timeout_s: float = 900.0
    http_checks: bool = True
    """Also wait for the target's /health/ready over HTTP (tests with a fake engine turn it off)."""
    clock: Clock = SYSTEM_CLOCK


@dataclass(frozen=True)
class ContainerState:
    status: str  # docker's: created/restarting/running/removing/paused/exited/dead
    oom_killed: bool
    exit_code: int
    restart_count: int
    health: str | None


@dataclass(frozen=True)
class ContainerExit:
    """One exit seen in the engine's events since up(): ``reason`` as the supervisor names it."""

    at: datetime
    exit_code: int
    oom_killed: bool

    @property
    def reason(self) -> str:
        if self.oom_killed:
            return "oom_killed"
        return "killed" if self.exit_code == 137 else f"exited:{self.exit_code}"


def container_state(container: Any) -> ContainerState:
    """Reload ``container`` and parse its State (docker SDK Container or the fake)."""
    from docker.errors import DockerException

    try:
        container.reload()
    except DockerException as exc:
        raise StackError(f"cannot inspect container {container.name}: {exc}") from exc
    state = container.attrs.get("State", {})
    health = state.get("Health", {}).get("Status") if state.get("Health") else None
    return ContainerState(
        status=str(state.get("Status", "unknown")),
        oom_killed=bool(state.get("OOMKilled", False)),
        exit_code=int(state.get("ExitCode", 0)),
        restart_count=int(container.attrs.get("RestartCount", 0)),
        health=health,
    )


def exits_from_events(events: Iterable[Mapping[str, Any]]) -> list[ContainerExit]:
    """``die`` events in order; an ``oom`` event of the same container before a die marks it OOM-killed."""
    exits: list[ContainerExit] = []
    oom_seen: set[str] = set()
    for event in events:
        actor = event.get("Actor", {})
        cid = str(actor.get("ID", event.get("id", "")))
        action = event.get("Action", event.get("status"))
        if action == "oom":
            oom_seen.add(cid)
        elif action == "die":
            code = int(actor.get("Attributes", {}).get("exitCode", -1))
            at = datetime.fromtimestamp(int(event.get("time", 0)), tz=UTC)
            exits.append(ContainerExit(at, code, cid in oom_seen))
            oom_seen.discard(cid)
    return exits


def published_ports(attrs: Mapping[str, Any]) -> dict[int, int]:
    """container port -> host port, for bindings on 127.0.0.1 only."""
    ports: dict[int, int] = {}
    for spec, bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).items():
        port, _, proto = str(spec).partition("/")
        if proto not in ("", "tcp"):
            continue
        for binding in bindings or []:
            if binding.get("HostIp") == LOOPBACK and binding.get("HostPort"):
                ports[int(port)] = int(binding["HostPort"])
    return ports


class DockerClientLike(Protocol):
    """The slice of ``docker.DockerClient`` the stack uses (the recording fake has the same)."""

    containers: Any
    networks: Any

    def events(
        self, since: Any = None, until: Any = None, filters: Any = None, decode: bool = False
    ) -> Any: ...


class ReceiverLike(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def endpoint(self) -> Endpoint: ...


def default_client() -> DockerClientLike:
    import docker
    from docker.errors import DockerException

    try:
        client: DockerClientLike = docker.from_env(timeout=10)
    except DockerException as exc:
        raise BackendUnavailable(f"no Docker engine answered: {exc}") from exc
    return client


def bindable(host: str) -> bool:
    """True when ``host`` is an address of this machine (so a server can listen on it)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
    except OSError:
        return False
    return True


def scheme_of(service: Service) -> str:
    return {Service.REDIS: "redis", Service.POSTGRES: "postgresql"}.get(service, "http")


def write_private(path: Path, text: str, mode: int) -> None:
    """Atomic write, created with ``mode`` (never world-readable in between)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def compose_env(settings: DockerSettings, config_dir: Path, credentials: Credentials,
                grafana_password: str) -> dict[str, str]:
    """The DRILL_* variables docker-compose.yml interpolates, host ports included."""
    env = {
        "DRILL_CONFIG_DIR": str(config_dir),
        "DRILL_UID": str(os.getuid()),
        "DRILL_GID": str(os.getgid()),
        "DRILL_ADMIN_TOKEN": credentials.admin_token,
        "DRILL_POSTGRES_PASSWORD": credentials.postgres_password,
        "DRILL_GRAFANA_PASSWORD": grafana_password,
        "DRILL_TARGET_MEMORY_LIMIT": f"{settings.target_memory_limit_mb}m",
        "DRILL_TARGET_RATE_LIMIT_RPS": str(settings.target_rate_limit_rps),
    }
    for key, port in settings.host_ports.items():
        if key not in PORT_VARIABLES:
            raise StackError(f"unknown host port {key!r}; known: {', '.join(PORT_VARIABLES)}")
        env[PORT_VARIABLES[key]] = str(port)
    return env
