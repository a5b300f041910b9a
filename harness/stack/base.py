"""The Stack interface every backend implements, and a recording fake.

A stack brings the monitoring and data services up around a target, tells
where each one listens, and gives faults process control over them. The
local backend runs Debian's binaries as child processes; the Docker backend
runs containers; :class:`FakeStack` records calls for unit tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from harness.errors import ServiceControlError, StackError


class Service(StrEnum):
    PROMETHEUS = "prometheus"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    REDIS = "redis"
    POSTGRES = "postgres"
    TARGET = "target"
    RECEIVER = "receiver"
    FAULT_PROXY = "fault_proxy"


class ServiceAction(StrEnum):
    STOP = "stop"
    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    START = "start"
    RESTART = "restart"


class ServiceStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ABSENT = "absent"


class StackState(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class Endpoint:
    """Where a service listens. ``url`` is the base URL for HTTP services."""

    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Credentials:
    """Secrets a stack generates per run. Never logged (see harness.secrets)."""

    admin_token: str
    receiver_token: str
    postgres_user: str = "drill"
    postgres_password: str = "drill"
    postgres_db: str = "drill"


@dataclass(frozen=True)
class AlertTiming:
    """The configured intervals that bound how fast an alert can fire and be delivered."""

    scrape_interval_s: float
    evaluation_interval_s: float
    group_wait_s: float


class Stack(ABC):
    """A running set of services. Use as a context manager: down() always runs."""

    backend: str = "abstract"
    state: StackState = StackState.CREATED
    run_dir: Path
    credentials: Credentials

    @abstractmethod
    def up(self) -> None:
        """Start every service and wait until each is ready."""

    @abstractmethod
    def down(self) -> None:
        """Stop every service, in reverse start order. Idempotent."""

    @abstractmethod
    def services(self) -> tuple[Service, ...]:
        """The services this stack runs."""

    @abstractmethod
    def endpoint(self, service: Service) -> Endpoint:
        """Where clients reach ``service`` (through the fault proxy where there is one)."""

    def direct_endpoint(self, service: Service) -> Endpoint:
        """Where ``service`` itself listens, bypassing any fault proxy."""
        return self.endpoint(service)

    @abstractmethod
    def control(self, service: Service, action: ServiceAction) -> None:
        """Process control used by faults and runbooks. Raises ServiceControlError."""

    @abstractmethod
    def status(self, service: Service) -> ServiceStatus: ...

    def memory_limit(self, service: Service) -> int | None:
        """The service's memory limit in MB (None: unlimited or unknown)."""
        return None

    def set_memory_limit(self, service: Service, limit_mb: int) -> None:
        """Give ``service`` another memory limit, live (like raising a container's limit)."""
        raise ServiceControlError(
            f"the {self.backend} stack cannot change the memory limit of {service.value}"
        )

    def alert_timing(self) -> AlertTiming | None:
        """The stack's alerting intervals, when it knows them (for the detection floor)."""
        return None

    def has(self, service: Service) -> bool:
        return service in self.services()

    def require(self, service: Service) -> Endpoint:
        if not self.has(service):
            raise StackError(f"the {self.backend} stack does not run {service.value}")
        return self.endpoint(service)

    def __enter__(self) -> Stack:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()


@dataclass
class FakeStack(Stack):
    """Recording fake: answers endpoints from a table and records control calls."""

    endpoints: dict[Service, Endpoint] = field(default_factory=dict)
    run_dir: Path = Path("/nonexistent")
    credentials: Credentials = field(default_factory=lambda: Credentials("admin-token", "receiver-token"))
    calls: list[tuple[str, Service | None, ServiceAction | None]] = field(default_factory=list)
    statuses: dict[Service, ServiceStatus] = field(default_factory=dict)
    fail_actions: set[tuple[Service, ServiceAction]] = field(default_factory=set)
    memory_limits: dict[Service, int] = field(default_factory=dict)
    backend: str = "fake"

    def up(self) -> None:
        self.calls.append(("up", None, None))
        self.state = StackState.READY
        for service in self.endpoints:
            self.statuses.setdefault(service, ServiceStatus.RUNNING)

    def down(self) -> None:
        self.calls.append(("down", None, None))
        self.state = StackState.STOPPED

    def services(self) -> tuple[Service, ...]:
        return tuple(self.endpoints)

    def endpoint(self, service: Service) -> Endpoint:
        try:
            return self.endpoints[service]
        except KeyError:
            raise StackError(f"fake stack has no {service.value}") from None

    def control(self, service: Service, action: ServiceAction) -> None:
        self.calls.append(("control", service, action))
        if (service, action) in self.fail_actions:
            raise ServiceControlError(f"fake failure: {action.value} {service.value}")
        self.statuses[service] = {
            ServiceAction.STOP: ServiceStatus.STOPPED,
            ServiceAction.KILL: ServiceStatus.STOPPED,
            ServiceAction.PAUSE: ServiceStatus.PAUSED,
        }.get(action, ServiceStatus.RUNNING)

    def status(self, service: Service) -> ServiceStatus:
        return self.statuses.get(service, ServiceStatus.ABSENT)

    def memory_limit(self, service: Service) -> int | None:
        return self.memory_limits.get(service)

    def set_memory_limit(self, service: Service, limit_mb: int) -> None:
        self.calls.append(("memory_limit", service, None))
        self.memory_limits[service] = limit_mb
