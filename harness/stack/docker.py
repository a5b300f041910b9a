"""The Docker backend: the same Stack interface over docker-compose.yml and the docker SDK.

``up()`` renders prometheus.yml / alertmanager.yml through
:mod:`harness.stack.config_render` (the same templates, rules and routes as the
local stack) into a config directory that the compose file mounts, starts the
webhook receiver on the host where Alertmanager's container can reach it, runs
``docker compose up``, and waits (``wait_for``) until every container is
healthy and the target is ready. ``down()`` always runs ``docker compose down
-v``. Process control maps to container stop/kill/pause/unpause/start/restart;
status and published ports come from ``docker inspect``; OOM kills come from
the container state and the engine's ``oom`` events.

The docker client and the compose runner are constructor arguments, so the
logic is tested against recording fakes where no engine exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import BackendUnavailable, ServiceControlError, ServiceStartError, StackError
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
from harness.stack.compose_cli import ComposeCli, ComposeRunner
from harness.stack.config_render import (
    AlertmanagerConfig,
    PrometheusConfig,
    render_alertmanager_config,
    render_prometheus_config,
)
from harness.stack.docker_layout import (
    COMPOSE_SERVICES,
    CONTAINER_RULES_DIR,
    CONTAINER_TOKEN_FILE,
    DIRECT_PORTS,
    HOST_GATEWAY_NAME,
    LOOPBACK,
    POD,
    PUBLISHED_PORTS,
    ContainerExit,
    ContainerState,
    DockerClientLike,
    DockerSettings,
    ReceiverLike,
    bindable,
    compose_env,
    container_state,
    default_client,
    exits_from_events,
    published_ports,
    scheme_of,
    write_private,
)
from harness.stack.wait import HttpOk, Predicate, WaitStrategy, wait_for

__all__ = ["ContainerExit", "ContainerState", "DockerSettings", "DockerStack"]


class DockerStack(Stack):
    backend = "docker"

    def __init__(
        self,
        settings: DockerSettings | None = None,
        *,
        run_dir: Path | None = None,
        client: DockerClientLike | None = None,
        compose: ComposeRunner | None = None,
        receiver_factory: Callable[[str, str], ReceiverLike] | None = None,
        bindable: Callable[[str], bool] = bindable,
    ) -> None:
        """``DockerStack(DockerSettings(...))``, or ``DockerStack(run_dir=...)`` for the defaults."""
        if settings is None:
            if run_dir is None:
                raise StackError("DockerStack needs settings or a run_dir")
            settings = DockerSettings(run_dir=run_dir)
        self.settings = settings
        self.clock = settings.clock
        self.run_dir = settings.run_dir.resolve()
        self.config_dir = (settings.config_dir or self.run_dir / "docker-config").resolve()
        self.env_file = self.config_dir / "compose.env"
        self.credentials = Credentials(
            admin_token=secrets.token_urlsafe(24),
            receiver_token=secrets.token_urlsafe(24),
            postgres_password=secrets.token_urlsafe(18),
        )
        self.grafana_auth: tuple[str, str] = ("admin", secrets.token_urlsafe(18))
        self.state = StackState.CREATED
        self.compose: ComposeRunner = compose or ComposeCli(
            settings.compose_file, settings.project, timeout_s=settings.compose_timeout_s
        )
        self._client = client
        self._receiver_factory = receiver_factory or self._webhook_receiver
        self._bindable = bindable
        self.receiver: ReceiverLike | None = None
        self.started_at: datetime | None = None
        self._ports: dict[int, int] = {}

    # ------------------------------------------------------------------ interface
    def services(self) -> tuple[Service, ...]:
        return (*COMPOSE_SERVICES, Service.RECEIVER)

    def endpoint(self, service: Service) -> Endpoint:
        if service == Service.RECEIVER:
            return self._receiver().endpoint
        if service not in PUBLISHED_PORTS:
            raise StackError(f"the docker stack does not run {service.value}")
        return Endpoint(LOOPBACK, self._host_port(PUBLISHED_PORTS[service]), scheme_of(service))

    def direct_endpoint(self, service: Service) -> Endpoint:
        if service in DIRECT_PORTS:
            return Endpoint(LOOPBACK, self._host_port(DIRECT_PORTS[service]), scheme_of(service))
        return self.endpoint(service)

    def alert_timing(self) -> AlertTiming:
        s = self.settings
        return AlertTiming(s.scrape_interval_s, s.evaluation_interval_s, s.group_wait_s)

    def status(self, service: Service) -> ServiceStatus:
        if service == Service.RECEIVER:
            return ServiceStatus.RUNNING if self.receiver is not None else ServiceStatus.STOPPED
        if service not in COMPOSE_SERVICES:
            return ServiceStatus.ABSENT
        container = self._find(COMPOSE_SERVICES[service])
        if container is None:
            return ServiceStatus.ABSENT
        status = container_state(container).status
        if status == "running":
            return ServiceStatus.RUNNING
        return ServiceStatus.PAUSED if status == "paused" else ServiceStatus.STOPPED

    def control(self, service: Service, action: ServiceAction) -> None:
        if service not in COMPOSE_SERVICES:
            raise ServiceControlError(f"the docker stack cannot {action.value} {service.value}")
        container = self._find(COMPOSE_SERVICES[service])
        if container is None:
            raise ServiceControlError(f"{service.value} has no container (is the stack up?)")
        from docker.errors import DockerException

        try:
            if action == ServiceAction.KILL and service == Service.TARGET:
                # A crash, not an operator's kill: SIGKILL the process under docker-init, so the
                # container exits 137 and the restart policy restarts it (as Kubernetes would).
                # `docker kill` would count as a manual stop and never be restarted.
                container.exec_run(["sh", "-c", "kill -KILL -1"], detach=True)
            elif action == ServiceAction.KILL:
                container.kill()
            elif action == ServiceAction.STOP:
                container.stop(timeout=10)
            elif action == ServiceAction.PAUSE:
                container.pause()
            elif action == ServiceAction.RESUME:
                container.unpause()
            elif action == ServiceAction.START:
                container.start()
            elif action == ServiceAction.RESTART:
                container.restart(timeout=10)
        except DockerException as exc:
            raise ServiceControlError(f"docker could not {action.value} {service.value}: {exc}") from exc

    def memory_limit(self, service: Service) -> int | None:
        container = self._find(COMPOSE_SERVICES[service]) if service in COMPOSE_SERVICES else None
        if container is None:
            return None
        limit = int(container.attrs.get("HostConfig", {}).get("Memory") or 0)
        return limit // (1024 * 1024) if limit else None

    def set_memory_limit(self, service: Service, limit_mb: int) -> None:
        """``docker update --memory``: live, like raising a pod's limit."""
        container = self._find(COMPOSE_SERVICES[service]) if service in COMPOSE_SERVICES else None
        if container is None:
            raise ServiceControlError(f"{service.value} has no container (is the stack up?)")
        from docker.errors import DockerException

        try:
            container.update(mem_limit=f"{limit_mb}m", memswap_limit=f"{limit_mb}m")
        except DockerException as exc:
            message = f"docker could not set the memory limit of {service.value}: {exc}"
            raise ServiceControlError(message) from exc

    def up(self) -> None:
        if self.state == StackState.READY:
            return
        self.state = StackState.STARTING
        self.started_at = self.clock.now()
        try:
            self.receiver = self._receiver_factory(self.credentials.receiver_token, self._receiver_host())
            self.receiver.start()
            self.render()
            self.compose.up(self.env_file)
            self._ports = {}
            wait_for(self._readiness(), timeout=self.settings.ready_timeout_s, poll_interval=0.5,
                     clock=self.clock)
            self.state = StackState.READY
            self._write_state()
        except BaseException:
            self.state = StackState.FAILED
            with contextlib.suppress(StackError):
                self._teardown()
            raise

    def down(self) -> None:
        """Tear down; on a fresh instance (``drillctl down``), the stack its run_dir's compose.env records."""
        never_up = self.state == StackState.CREATED and not self.env_file.exists()
        if self.state == StackState.STOPPED or never_up:
            return
        self.state = StackState.STOPPING
        try:
            self._teardown()
        finally:
            self.state = StackState.STOPPED
            if self.started_at is not None:
                self._write_state()

    # ------------------------------------------------------------------ docker specifics
    def container_state(self, service: Service) -> ContainerState | None:
        """Docker's view of ``service``'s container (None when there is none)."""
        container = self._find(COMPOSE_SERVICES[service]) if service in COMPOSE_SERVICES else None
        return None if container is None else container_state(container)

    def restart_count(self, service: Service) -> int:
        state = self.container_state(service)
        return 0 if state is None else state.restart_count

    def exits(self, service: Service) -> list[ContainerExit]:
        """Every exit of ``service``'s containers since up(), OOM kills marked (from ``oom`` events)."""
        if service not in COMPOSE_SERVICES or self.started_at is None:
            return []
        from docker.errors import DockerException

        labels = self._labels(COMPOSE_SERVICES[service])
        filters = {"type": "container", "event": ["oom", "die"], "label": labels}
        try:
            events = list(self.client.events(since=self.started_at, until=self.clock.now(),
                                              filters=filters, decode=True))
        except DockerException as exc:
            raise StackError(f"cannot read docker events: {exc}") from exc
        return exits_from_events(events)

    def last_exit_reason(self, service: Service) -> str:
        """``oom_killed`` / ``killed`` / ``exited:<code>`` / ``none``, as the local supervisor reports it."""
        state = self.container_state(service)
        if state is not None and state.status in ("exited", "dead", "restarting") and state.oom_killed:
            return "oom_killed"
        history = self.exits(service)
        return history[-1].reason if history else "none"

    def render(self) -> None:
        """Write prometheus.yml, alertmanager.yml, the receiver token and compose.env into config_dir."""
        s = self.settings
        prometheus = PrometheusConfig(
            scrape_interval_s=s.scrape_interval_s,
            evaluation_interval_s=s.evaluation_interval_s,
            target_address=f"{LOOPBACK}:{DIRECT_PORTS[Service.TARGET]}",
            alertmanager_address=f"{LOOPBACK}:9093",
            rule_files=[f"{CONTAINER_RULES_DIR}/*.yml"],
            external_labels={"harness_run": self.run_dir.name},
            prometheus_address=f"{LOOPBACK}:9090",
        )
        alertmanager = AlertmanagerConfig(
            receiver_url=f"http://{HOST_GATEWAY_NAME}:{self._receiver().endpoint.port}",
            credentials_file=CONTAINER_TOKEN_FILE,
            group_wait_s=s.group_wait_s,
            group_interval_s=s.group_interval_s,
            repeat_interval_s=s.repeat_interval_s,
            resolve_timeout_s=s.resolve_timeout_s,
        )
        cfg = self.config_dir
        for sub in ("prometheus", "alertmanager"):
            (cfg / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(cfg / "prometheus" / "prometheus.yml", render_prometheus_config(prometheus), 0o600)
        am_yml = render_alertmanager_config(alertmanager)
        write_private(cfg / "alertmanager" / "alertmanager.yml", am_yml, 0o600)
        write_private(cfg / "alertmanager" / "receiver-token", self.credentials.receiver_token, 0o600)
        write_private(self.env_file, "".join(f"{k}={v}\n" for k, v in self.compose_env().items()), 0o600)

    def compose_env(self) -> dict[str, str]:
        """The variables docker-compose.yml interpolates (secrets included: written 0600 only)."""
        return compose_env(self.settings, self.config_dir, self.credentials, self.grafana_auth[1])

    @property
    def client(self) -> DockerClientLike:
        if self._client is None:
            self._client = default_client()
        return self._client

    # ------------------------------------------------------------------ internals
    def _webhook_receiver(self, token: str, host: str) -> ReceiverLike:
        from harness.receiver import WebhookReceiver

        return WebhookReceiver(token, clock=self.clock, host=host)

    def _receiver(self) -> ReceiverLike:
        if self.receiver is None:
            raise StackError("the receiver is not running")
        return self.receiver

    def _receiver_host(self) -> str:
        """The bridge gateway when it is this machine's address (native Linux engine), else loopback.

        Alertmanager reaches the receiver as host.docker.internal (host-gateway = the
        bridge gateway). Binding there, not 0.0.0.0, keeps the receiver off every
        other network; Docker Desktop forwards host.docker.internal to the host's loopback.
        """
        if self.settings.receiver_host:
            return self.settings.receiver_host
        from docker.errors import DockerException

        try:
            ipam = self.client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
        except DockerException as exc:
            raise BackendUnavailable(f"cannot inspect the docker bridge network: {exc}") from exc
        gateways = [str(c["Gateway"]) for c in ipam if c.get("Gateway")]
        for gateway in gateways:
            if self._bindable(gateway):
                return gateway
        return LOOPBACK

    def _labels(self, compose_service: str) -> list[str]:
        return [f"com.docker.compose.project={self.settings.project}",
                f"com.docker.compose.service={compose_service}"]

    def _find(self, compose_service: str) -> Any:
        from docker.errors import DockerException

        try:
            found = self.client.containers.list(all=True, filters={"label": self._labels(compose_service)})
        except DockerException as exc:
            raise StackError(f"cannot list containers: {exc}") from exc
        return found[0] if found else None

    def _host_port(self, container_port: int) -> int:
        if container_port not in self._ports:
            pod = self._find(POD)
            if pod is None:
                raise StackError("the docker stack is not up (no pod container)")
            container_state(pod)  # reloads its attrs
            self._ports = published_ports(pod.attrs)
        try:
            return self._ports[container_port]
        except KeyError:
            raise StackError(f"port {container_port} is not published on 127.0.0.1") from None

    def _all_healthy(self) -> bool:
        for name in (POD, *COMPOSE_SERVICES.values()):
            container = self._find(name)
            if container is None:
                return False
            state = container_state(container)
            if state.status in ("exited", "dead"):
                raise ServiceStartError(
                    f"container {name} exited with code {state.exit_code} during start-up "
                    f"(see `docker compose -p {self.settings.project} logs {name}`)"
                )
            if state.status != "running" or state.health not in ("healthy", None):
                return False
        return True

    def _readiness(self) -> list[WaitStrategy]:
        checks: list[WaitStrategy] = [Predicate(self._all_healthy, "every container running and healthy")]
        if self.settings.http_checks:
            checks.append(HttpOk(f"{self.endpoint(Service.TARGET).url}/health/ready"))
        return checks

    def _teardown(self) -> None:
        errors: list[str] = []
        try:
            if self.env_file.exists():
                self.compose.down(self.env_file)
        except StackError as exc:
            errors.append(str(exc))
        finally:
            if self.receiver is not None:
                self.receiver.stop()
                self.receiver = None
            self._ports = {}
        if errors:
            raise StackError("docker stack teardown failed: " + "; ".join(errors))

    def _teardown_command(self) -> list[str] | None:
        return self.compose.describe_down(self.env_file) if isinstance(self.compose, ComposeCli) else None

    def _write_state(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "backend": self.backend,
            "state": self.state.value,
            "harness_pid": os.getpid(),
            "project": self.settings.project,
            "compose_file": str(self.settings.compose_file),
            "env_file": str(self.env_file),
            "config_dir": str(self.config_dir),
            "receiver": self.receiver.endpoint.url if self.receiver is not None else None,
            "grafana": {"user": self.grafana_auth[0], "password": self.grafana_auth[1]},
            "credentials": dataclasses.asdict(self.credentials),
            "published_ports": {str(k): v for k, v in self._ports.items()},
            "teardown": self._teardown_command(),
        }
        write_private(self.run_dir / "stack.json", json.dumps(state, indent=2), 0o600)

