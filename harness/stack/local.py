"""The local backend: Debian's server binaries as child processes on loopback.

Postgres, Redis, the fault proxy, the demo target (under its supervisor),
Alertmanager and Prometheus run as children of the harness on free
127.0.0.1 ports; the webhook receiver runs in-process. Configs are rendered
from ``fixtures/`` into the run directory, and each service logs to
``<run_dir>/logs/<service>.log``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import (
    MissingBinaryError,
    ServiceControlError,
    ServiceStartError,
    StackError,
    WaitTimeout,
)
from harness.observe.prometheus import PrometheusClient
from harness.receiver import WebhookReceiver
from harness.stack import local_specs as specs
from harness.stack import postgres as pg
from harness.stack.base import (
    AlertTiming,
    Credentials,
    Endpoint,
    Service,
    ServiceAction,
    ServiceStatus,
    Stack,
    StackState,
)
from harness.stack.config_render import (
    RULES_DIR,
)
from harness.stack.procs import ManagedProcess, ProcessSpec, free_port, pid_alive
from harness.stack.supervisor import limits_file, read_status
from harness.stack.wait import (
    TRANSIENT_ERRORS,
    HttpOk,
    Predicate,
    ProcessAlive,
    TcpPortOpen,
    WaitStrategy,
    wait_for,
)

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

# binary -> the Debian packages that provide it
BINARIES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "prometheus-alertmanager": ("prometheus-alertmanager",),
    "redis-server": ("redis-server",),
    "initdb": ("postgresql",),
    "postgres": ("postgresql",),
}


@dataclass
class LocalSettings:
    """Everything configurable about a local stack. Defaults make drills fast."""

    run_dir: Path
    scrape_interval_s: float = 1.0
    evaluation_interval_s: float = 1.0
    group_wait_s: float = 0.5
    group_interval_s: float = 1.0
    repeat_interval_s: float = 3600.0
    resolve_timeout_s: float = 5.0
    with_proxy: bool = True
    target_memory_limit_mb: int | None = 256
    target_rate_limit_rps: int = 500
    ready_timeout_s: float = 30.0
    wait_first_scrape: bool = True
    """Ready only once Prometheus has scraped the target (about 5 s: it hands new targets to its
    scrape loop every 5 s). Drills need it; tests of process control alone may skip it."""
    rule_files: list[Path] = field(default_factory=lambda: sorted(RULES_DIR.glob("*.yml")))
    clock: Clock = SYSTEM_CLOCK


def check_binaries(
    which: Callable[[str], str | None] = shutil.which,
    find_pg: Callable[[str], str | None] = pg.find_pg_binary,
) -> dict[str, str]:
    """Resolve every binary the local stack needs; raise naming the apt packages."""
    found: dict[str, str] = {}
    for binary, packages in BINARIES.items():
        path = which(binary) or find_pg(binary)
        if path is None:
            raise MissingBinaryError(binary, packages)
        found[binary] = path
    return found


class LocalStack(Stack):
    backend = "local"

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.run_dir = settings.run_dir.resolve()
        self.credentials = Credentials(
            admin_token=secrets.token_urlsafe(24), receiver_token=secrets.token_urlsafe(24)
        )
        self.state = StackState.CREATED
        self.ports: dict[str, int] = {}
        self.procs: dict[Service, ManagedProcess] = {}
        self.started: list[Service] = []
        self.receiver: WebhookReceiver | None = None
        self.startup_seconds: dict[str, float] = {}
        self._pg_home: Path | None = None

    # ------------------------------------------------------------------ interface
    def services(self) -> tuple[Service, ...]:
        base = [Service.POSTGRES, Service.REDIS, Service.TARGET, Service.RECEIVER]
        base += [Service.ALERTMANAGER, Service.PROMETHEUS]
        if self.settings.with_proxy:
            base.insert(2, Service.FAULT_PROXY)
        return tuple(base)

    def endpoint(self, service: Service) -> Endpoint:
        if service == Service.RECEIVER:
            if self.receiver is None:
                raise StackError("the receiver is not running")
            return self.receiver.endpoint
        if self.settings.with_proxy and service in (Service.TARGET, Service.REDIS, Service.POSTGRES):
            return Endpoint(LOOPBACK, self.port(f"proxy_{service.value}"), _scheme(service))
        return self.direct_endpoint(service)

    def direct_endpoint(self, service: Service) -> Endpoint:
        if service == Service.RECEIVER:
            return self.endpoint(service)
        if service not in self.services():
            raise StackError(f"the local stack does not run {service.value}")
        return Endpoint(LOOPBACK, self.port(service.value), _scheme(service))

    def memory_limit(self, service: Service) -> int | None:
        if service != Service.TARGET:
            return None
        try:
            return read_status(self.supervisor_status_file()).memory_limit_mb
        except (OSError, ValueError):
            return self.settings.target_memory_limit_mb

    def set_memory_limit(self, service: Service, limit_mb: int) -> None:
        """The target only (the supervisor enforces it); applied within a poll interval."""
        if service != Service.TARGET or self.settings.target_memory_limit_mb is None:
            super().set_memory_limit(service, limit_mb)
        if limit_mb <= 0:
            raise ServiceControlError(f"memory limit must be positive, got {limit_mb} MB")
        path = limits_file(self.supervisor_status_file())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"memory_limit_mb": int(limit_mb)}))
        os.replace(tmp, path)

        def applied() -> bool:
            return self.memory_limit(Service.TARGET) == limit_mb

        try:
            wait_for(Predicate(applied, f"target memory limit {limit_mb} MB"), timeout=10.0, clock=self.clock)
        except WaitTimeout as exc:
            raise ServiceControlError(f"the supervisor did not apply the memory limit: {exc}") from exc

    def alert_timing(self) -> AlertTiming:
        s = self.settings
        return AlertTiming(s.scrape_interval_s, s.evaluation_interval_s, s.group_wait_s)

    def status(self, service: Service) -> ServiceStatus:
        if service == Service.RECEIVER:
            return ServiceStatus.RUNNING if self.receiver is not None else ServiceStatus.STOPPED
        if service == Service.TARGET:
            return self._target_status()
        proc = self.procs.get(service)
        return proc.status() if proc is not None else ServiceStatus.ABSENT

    def control(self, service: Service, action: ServiceAction) -> None:
        if service == Service.RECEIVER or service not in self.procs:
            raise ServiceControlError(f"the local stack cannot {action.value} {service.value}")
        if service == Service.TARGET:
            self._control_target(action)
        else:
            self._control_process(service, action)
        self._write_state()

    # ------------------------------------------------------------------ lifecycle
    def up(self) -> None:
        if self.state == StackState.READY:
            return
        binaries = check_binaries()
        self.state = StackState.STARTING
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        start = self.clock.monotonic()
        try:
            self._allocate_ports()
            self._start_receiver()
            t0 = self.clock.monotonic()
            pg.init_cluster(self.pg_layout(), binaries["initdb"])
            self.startup_seconds["initdb"] = round(self.clock.monotonic() - t0, 3)
            self._launch(Service.POSTGRES, specs.postgres_spec(self, binaries["postgres"]))
            self._launch(Service.REDIS, specs.redis_spec(self, binaries["redis-server"]))
            if self.settings.with_proxy:
                self._launch(Service.FAULT_PROXY, specs.proxy_spec(self))
            self._launch(Service.TARGET, specs.target_spec(self))
            self._launch(
                Service.ALERTMANAGER, specs.alertmanager_spec(self, binaries["prometheus-alertmanager"])
            )
            self._launch(Service.PROMETHEUS, specs.prometheus_spec(self, binaries["prometheus"]))
            self._write_state()
            self._wait_ready(Service.POSTGRES)
            pg.ensure_database(self._pg_dsn("postgres"), self.credentials.postgres_db)
            for service in self.started:
                if service != Service.POSTGRES:
                    self._wait_ready(service)
            if self.settings.wait_first_scrape:
                self._wait_first_scrape()
        except BaseException:
            self.state = StackState.FAILED
            self.down()
            raise
        self.startup_seconds["total"] = round(self.clock.monotonic() - start, 3)
        self.state = StackState.READY

    def down(self) -> None:
        if self.state in (StackState.STOPPED, StackState.CREATED) and not self.procs:
            return
        self.state = StackState.STOPPING
        for service in reversed(self.started):  # every one, whatever happened to the one before
            proc = self.procs.get(service)
            if proc is not None:
                try:
                    proc.stop()
                except Exception:
                    log.exception("stopping %s failed; killing its process group", service.value)
                    with contextlib.suppress(Exception):
                        proc.kill()
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                self.receiver.stop()
            self.receiver = None
        self.procs.clear()
        self.started.clear()
        if self._pg_home is not None:
            pg.remove_home(self.pg_layout())
            self._pg_home = None
        with contextlib.suppress(OSError):
            self._write_state()
        self.state = StackState.STOPPED

    def wait_ready(self, service: Service, timeout: float | None = None) -> float:
        """Wait until ``service`` answers its readiness check again (after a restart)."""
        return wait_for(
            self._readiness(service), timeout=timeout or self.settings.ready_timeout_s, clock=self.clock
        )

    def _wait_first_scrape(self) -> None:
        """Ready means monitoring sees the target: Prometheus has scraped it once (it assigns new
        targets to its scrape loop only every 5 s)."""
        prometheus = PrometheusClient(self.direct_endpoint(Service.PROMETHEUS).url)

        def scraped() -> bool:
            return prometheus.query_scalar('up{job="demo-target"}') == 1.0

        t0 = self.clock.monotonic()
        try:
            wait_for(
                Predicate(scraped, "prometheus scraped the target"),
                timeout=self.settings.ready_timeout_s,
                poll_interval=0.2,
                clock=self.clock,
                transient=(*TRANSIENT_ERRORS, StackError),
            )
        except WaitTimeout as exc:
            raise ServiceStartError(f"prometheus never scraped the target: {exc}") from exc
        self.startup_seconds["first_scrape"] = round(self.clock.monotonic() - t0, 3)

    # ------------------------------------------------------------------ internals
    def port(self, name: str) -> int:
        try:
            return self.ports[name]
        except KeyError:
            raise StackError(f"no port allocated for {name}; is the stack up?") from None

    def _allocate_ports(self) -> None:
        names = [s.value for s in self.services() if s != Service.RECEIVER]
        if self.settings.with_proxy:
            names += ["proxy_target", "proxy_redis", "proxy_postgres"]
        taken: set[int] = set()
        for name in names:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            self.ports[name] = port

    def _start_receiver(self) -> None:
        self.receiver = WebhookReceiver(self.credentials.receiver_token, clock=self.clock, host=LOOPBACK)
        self.receiver.start()

    def _launch(self, service: Service, spec: ProcessSpec) -> None:
        proc = ManagedProcess(spec)
        self.procs[service] = proc
        self.started.append(service)
        proc.start()

    def log_path(self, service: Service) -> Path:
        return self.run_dir / "logs" / f"{service.value}.log"

    def _readiness(self, service: Service) -> WaitStrategy:
        proc = self.procs[service]
        alive: WaitStrategy = (
            ProcessAlive(proc.process, service.value, proc.spec.log_path)
            if (proc.process is not None and service != Service.TARGET)
            else TcpPortOpen(LOOPBACK, self.port(service.value))
        )
        direct = self.direct_endpoint(service)
        check: WaitStrategy
        if service == Service.POSTGRES:
            check = pg.PostgresReady(self._pg_dsn("postgres"))
        elif service == Service.REDIS:
            check = TcpPortOpen(LOOPBACK, direct.port)
        elif service == Service.FAULT_PROXY:
            check = HttpOk(f"{direct.url}/health")
        elif service == Service.TARGET:
            check = HttpOk(f"{direct.url}/health/ready")
        else:
            check = HttpOk(f"{direct.url}/-/ready")
        return alive & check if service != Service.TARGET else check

    def _wait_ready(self, service: Service) -> None:
        try:
            self.startup_seconds[service.value] = round(self.wait_ready(service), 3)
        except WaitTimeout as exc:
            raise ServiceStartError(
                f"{service.value} did not become ready: {exc}; see {self.log_path(service)}"
            ) from exc

    # --- postgres
    def pg_layout(self) -> pg.ClusterLayout:
        if self._pg_home is None:
            self._pg_home = pg.private_home(self.run_dir, pg.server_os_user())
        return pg.ClusterLayout(
            data_dir=self._pg_home / "data",
            socket_dir=self._pg_home / "sock",
            superuser=self.credentials.postgres_user,
            password=self.credentials.postgres_password,
            os_user=pg.server_os_user(),
        )

    def _pg_dsn(self, dbname: str) -> str:
        c = self.credentials
        return f"postgresql://{c.postgres_user}:{c.postgres_password}@{LOOPBACK}:{self.port('postgres')}/{dbname}"

    # --- target control
    def supervisor_status_file(self) -> Path:
        return self.run_dir / "target-supervisor.json"

    def _target_child_pid(self) -> int | None:
        try:
            status = read_status(self.supervisor_status_file())
        except (OSError, ValueError):
            return None
        pid = status.child_pid
        return pid if pid and pid_alive(pid) else None

    def _target_status(self) -> ServiceStatus:
        proc = self.procs.get(Service.TARGET)
        if proc is None:
            return ServiceStatus.ABSENT
        if not proc.running():
            return ServiceStatus.STOPPED
        child = self._target_child_pid()
        if child is None:
            return ServiceStatus.STOPPED
        from harness.stack.procs import process_state

        return ServiceStatus.PAUSED if process_state(child) == "T" else ServiceStatus.RUNNING

    def _control_target(self, action: ServiceAction) -> None:
        """The supervisor plays Kubernetes: kill/restart hit the container, stop/start the deployment."""
        proc = self.procs[Service.TARGET]
        if action in (ServiceAction.STOP,):
            proc.stop()
            return
        if action == ServiceAction.START:
            proc.start()
            return
        child = self._target_child_pid()
        if child is None:
            raise ServiceControlError("the target has no running process to act on")
        sig = {
            ServiceAction.KILL: signal.SIGKILL,
            ServiceAction.RESTART: signal.SIGTERM,
            ServiceAction.PAUSE: signal.SIGSTOP,
            ServiceAction.RESUME: signal.SIGCONT,
        }[action]
        try:
            os.kill(child, sig)
        except ProcessLookupError as exc:
            raise ServiceControlError(f"target process {child} is gone") from exc

    # --- generic processes
    def _control_process(self, service: Service, action: ServiceAction) -> None:
        proc = self.procs[service]
        if action == ServiceAction.STOP:
            proc.stop()
        elif action == ServiceAction.KILL:
            proc.kill()
        elif action == ServiceAction.PAUSE:
            proc.pause()
        elif action == ServiceAction.RESUME:
            proc.resume()
        elif action == ServiceAction.START:
            if not proc.running():
                proc.start()
                self._wait_ready(service)
        elif action == ServiceAction.RESTART:
            proc.stop()
            proc.start()
            self._wait_ready(service)

    # --- state file for cleanup after a crash
    def _write_state(self) -> None:
        state = {
            "backend": self.backend,
            "run_dir": str(self.run_dir),
            "harness_pid": os.getpid(),
            "written_at": time.time(),
            "state": self.state.value,
            "ports": self.ports,
            "pids": {s.value: p.pid for s, p in self.procs.items() if p.pid is not None},
            "receiver": self.receiver.endpoint.url if self.receiver is not None else None,
            "credentials": {
                "admin_token": self.credentials.admin_token,
                "receiver_token": self.credentials.receiver_token,
                "postgres_user": self.credentials.postgres_user,
                "postgres_password": self.credentials.postgres_password,
                "postgres_db": self.credentials.postgres_db,
            },
            "with_proxy": self.settings.with_proxy,
            "postgres_home": str(self._pg_home) if self._pg_home else None,
        }
        path = self.run_dir / "stack.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2)
        os.replace(tmp, path)


def _scheme(service: Service) -> str:
    return {Service.REDIS: "redis", Service.POSTGRES: "postgresql"}.get(service, "http")
