"""Recording fakes of the docker SDK client and of the compose runner.

They model the engine semantics DockerStack relies on, as documented by
Docker: ``kill``/``pause`` of a stopped container answer 409, ``unpause`` of a
running one fails, ``start`` of a paused one is refused, ``stop`` of a stopped
one is a no-op; a container that dies on its own (crash, OOM kill) is
restarted by an ``on-failure``/``unless-stopped`` policy and its RestartCount
grows, while ``docker stop``/``docker kill`` are manual stops that the policy
leaves alone; every exit emits a ``die`` event (``exitCode`` attribute),
preceded by ``oom`` for an OOM kill.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from harness.errors import ServiceStartError
from harness.stack.docker_layout import PORT_VARIABLES

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CRASH_COMMAND = ["sh", "-c", "kill -KILL -1"]

# pod container port -> PORT_VARIABLES key (which env var fixes its host port)
POD_PORTS: dict[int, str] = {
    3000: "grafana",
    9090: "prometheus",
    9093: "alertmanager",
    28080: "target",
    28474: "fault_proxy",
    26379: "redis",
    25432: "postgres",
    8080: "target_direct",
    6379: "redis_direct",
    5432: "postgres_direct",
}
SERVICES = ["pod", "fault-proxy", "redis", "postgres", "target", "alertmanager", "prometheus", "grafana"]
RESTART_POLICY = {"target": "on-failure"}  # the rest: unless-stopped (docker-compose.yml)


class FakeContainer:
    _ids = itertools.count(1)

    def __init__(self, client: FakeDockerClient, project: str, service: str,
                 ports: Mapping[int, int] | None = None) -> None:
        self.client = client
        self.id = f"c{next(self._ids):04d}"
        self.name = f"{project}-{service}-1"
        self.labels = {PROJECT_LABEL: project, SERVICE_LABEL: service}
        self.restart_policy = RESTART_POLICY.get(service, "unless-stopped")
        self.removed = False
        self._status = "running"
        self.exit_code = 0
        self.oom_killed = False
        self.restart_count = 0
        self.health: str | None = "healthy"
        self.ports = dict(ports or {})
        self.reloads = 0
        self.memory_bytes = 256 * 1024 * 1024 if service == "target" else 0

    # --- docker SDK surface
    @property
    def attrs(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": "/" + self.name,
            "RestartCount": self.restart_count,
            "HostConfig": {"Memory": self.memory_bytes},
            "State": {
                "Status": self._status,
                "Running": self._status in ("running", "paused"),
                "Paused": self._status == "paused",
                "Restarting": self._status == "restarting",
                "OOMKilled": self.oom_killed,
                "ExitCode": self.exit_code,
                **({"Health": {"Status": self.health}} if self.health is not None else {}),
            },
            "NetworkSettings": {
                "Ports": {
                    f"{c}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(h)}] for c, h in self.ports.items()
                }
            },
        }

    @property
    def status(self) -> str:
        return self._status

    def reload(self) -> None:
        self._check_exists()
        self.reloads += 1

    def stop(self, timeout: int = 10) -> None:
        self._record("stop")
        if self._status in ("running", "paused", "restarting"):
            self._exit(0, manual=True)

    def kill(self, signal: str = "SIGKILL") -> None:
        self._record("kill")
        self._require_running()
        self._exit(137, manual=True)

    def pause(self) -> None:
        self._record("pause")
        self._require_running()
        if self._status == "paused":
            raise APIError(f"Container {self.id} is already paused")
        self._status = "paused"

    def unpause(self) -> None:
        self._record("unpause")
        self._check_exists()
        if self._status != "paused":
            raise APIError(f"Container {self.id} is not paused")
        self._status = "running"

    def start(self) -> None:
        self._record("start")
        self._check_exists()
        if self._status == "paused":
            raise APIError("cannot start a paused container, try unpause instead")
        if self._status != "running":
            self._status, self.exit_code, self.oom_killed = "running", 0, False

    def restart(self, timeout: int = 10) -> None:
        self._record("restart")
        self._check_exists()
        if self._status in ("running", "paused"):
            self._emit("die", 0)
        self._status, self.exit_code, self.oom_killed = "running", 0, False

    def update(self, mem_limit: str, memswap_limit: str | None = None) -> None:
        self._record("update", mem_limit)
        self._check_exists()
        self.memory_bytes = int(mem_limit.rstrip("m")) * 1024 * 1024

    def exec_run(self, cmd: list[str], detach: bool = False) -> Any:
        self._record("exec_run", tuple(cmd))
        self._require_running()
        if self._status == "paused":
            raise APIError(f"Container {self.id} is paused, unpause the container before exec")
        if list(cmd) == CRASH_COMMAND:
            self.crash(137)
        return None

    # --- what the engine does on its own
    def crash(self, exit_code: int, oom: bool = False, restart: bool = True) -> None:
        """The main process dies (not a manual stop): the restart policy applies."""
        if oom:
            self._emit("oom", None)
            self.oom_killed = True
        self._exit(exit_code, manual=False)
        if restart and self.restart_policy in ("on-failure", "unless-stopped") and exit_code != 0:
            self._status = "restarting"
            if self.client.auto_restart:
                self.come_back()

    def come_back(self) -> None:
        """The restart policy's delayed start."""
        self.restart_count += 1
        self._status, self.exit_code, self.oom_killed = "running", 0, False

    # --- helpers
    def _exit(self, code: int, manual: bool) -> None:
        self._status, self.exit_code = "exited", code
        self._emit("die", code)

    def _emit(self, action: str, exit_code: int | None) -> None:
        attributes = dict(self.labels)
        if exit_code is not None:
            attributes["exitCode"] = str(exit_code)
        self.client.event_log.append({"Type": "container", "Action": action, "time": self.client.now_ts(),
                                      "Actor": {"ID": self.id, "Attributes": attributes}})

    def _record(self, action: str, *args: object) -> None:
        self.client.calls.append((action, self.labels[SERVICE_LABEL], *args))

    def _check_exists(self) -> None:
        if self.removed:
            raise NotFound(f"No such container: {self.id}")

    def _require_running(self) -> None:
        self._check_exists()
        if self._status not in ("running", "paused"):
            raise APIError(f"Cannot kill container: {self.id}: Container {self.id} is not running")


@dataclass
class FakeNetwork:
    attrs: dict[str, Any]


class FakeNetworks:
    def __init__(self, gateway: str) -> None:
        self.gateway = gateway

    def get(self, name: str) -> FakeNetwork:
        if name != "bridge":
            raise NotFound(f"network {name} not found")
        return FakeNetwork({"IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": self.gateway}]}})


class FakeContainers:
    def __init__(self, client: FakeDockerClient) -> None:
        self.client = client
        self.items: list[FakeContainer] = []

    def list(self, all: bool = False, filters: Mapping[str, Any] | None = None) -> list[FakeContainer]:
        labels = list((filters or {}).get("label", []))
        found = []
        for container in self.items:
            if container.removed or (not all and container.status != "running"):
                continue
            if all_labels_match(container.labels, labels):
                found.append(container)
        return found

    def by_service(self, service: str) -> FakeContainer:
        return next(c for c in self.items if c.labels[SERVICE_LABEL] == service and not c.removed)


def all_labels_match(labels: Mapping[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, _, value = item.partition("=")
        if labels.get(key) != value:
            return False
    return True


@dataclass
class FakeDockerClient:
    gateway: str = "172.17.0.1"
    auto_restart: bool = True
    calls: list[tuple[object, ...]] = field(default_factory=list)
    event_log: list[dict[str, Any]] = field(default_factory=list)
    fail_events: Exception | None = None
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(1_767_225_600))

    def __post_init__(self) -> None:
        self.containers = FakeContainers(self)
        self.networks = FakeNetworks(self.gateway)

    def now_ts(self) -> int:
        return next(self._clock)

    def ping(self) -> bool:
        return True

    def events(self, since: datetime | None = None, until: datetime | None = None,
               filters: Mapping[str, Any] | None = None, decode: bool = False) -> Iterator[dict[str, Any]]:
        self.calls.append(("events", filters))
        if self.fail_events is not None:
            raise self.fail_events
        wanted_actions = set((filters or {}).get("event", []))
        labels = list((filters or {}).get("label", []))
        return iter([
            e for e in self.event_log
            if (not wanted_actions or e["Action"] in wanted_actions)
            and all_labels_match(e["Actor"]["Attributes"], labels)
        ])


@dataclass
class FakeCompose:
    """Recording compose runner: ``up`` creates the project's containers in the fake client."""

    client: FakeDockerClient
    project: str = "chaos-drill"
    fail_up: Exception | None = None
    fail_down: Exception | None = None
    unhealthy: set[str] = field(default_factory=set)
    exited: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _ports: Iterator[int] = field(default_factory=lambda: itertools.count(41000))

    def up(self, env_file: Path) -> None:
        env = read_env(env_file)
        self.calls.append(("up", env))
        if self.fail_up is not None:
            raise self.fail_up
        if not env.get("DRILL_ADMIN_TOKEN"):
            raise ServiceStartError("required variable DRILL_ADMIN_TOKEN is missing a value")
        for service in SERVICES:
            ports = {}
            if service == "pod":
                for cport, key in POD_PORTS.items():
                    fixed = env.get(PORT_VARIABLES[key])
                    ports[cport] = int(fixed) if fixed else next(self._ports)
            container = FakeContainer(self.client, self.project, service, ports)
            if service in self.unhealthy:
                container.health = "starting"
            if service in self.exited:
                container._status, container.exit_code = "exited", 1
            self.client.containers.items.append(container)

    def down(self, env_file: Path) -> None:
        self.calls.append(("down", read_env(env_file)))
        for container in self.client.containers.items:
            container.removed = True
        if self.fail_down is not None:
            raise self.fail_down


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


@dataclass
class FakeReceiver:
    """Stands in for harness.receiver.WebhookReceiver: records where it was asked to bind."""

    token: str
    host: str
    port: int = 45678
    started: bool = False
    stopped: bool = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    @property
    def endpoint(self) -> Any:
        from harness.stack.base import Endpoint

        return Endpoint(self.host, self.port)
