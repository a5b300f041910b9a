"""Reconnect to a stack another (possibly dead) harness process started, from ``run_dir/stack.json``.

The attached stack knows endpoints, credentials and PIDs, so it can revert what
signals can revert (resume a paused process, reach the proxy and the admin API)
and reports whether the stack is still alive at all. It cannot start processes:
that needs the process specs only the owning :class:`~harness.stack.local.LocalStack` has.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ServiceControlError, StackError
from harness.stack.base import Credentials, Endpoint, Service, ServiceAction, ServiceStatus, Stack, StackState
from harness.stack.procs import pid_alive, process_state

_SCHEMES = {Service.REDIS: "redis", Service.POSTGRES: "postgresql"}
_SIGNALS = {
    ServiceAction.STOP: signal.SIGTERM,
    ServiceAction.KILL: signal.SIGKILL,
    ServiceAction.PAUSE: signal.SIGSTOP,
    ServiceAction.RESUME: signal.SIGCONT,
}


class AttachedStack(Stack):
    """A live local stack seen through its ``stack.json`` (no process ownership)."""

    def __init__(self, run_dir: Path, state: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.backend = str(state.get("backend", "local"))
        self.ports: dict[str, int] = {str(k): int(v) for k, v in (state.get("ports") or {}).items()}
        self.pids: dict[str, int] = {str(k): int(v) for k, v in (state.get("pids") or {}).items()}
        self.with_proxy = bool(state.get("with_proxy", False))
        self.receiver_url = state.get("receiver")
        creds = state.get("credentials") or {}
        fields = {k: str(v) for k, v in creds.items()}
        self.credentials = Credentials(**fields) if fields else Credentials("", "")
        self.state = StackState.READY if self.alive() else StackState.STOPPED

    def alive(self) -> bool:
        return any(pid_alive(pid) for pid in self.pids.values())

    def up(self) -> None:
        raise StackError("an attached stack cannot be started; it belongs to another process")

    def down(self) -> None:
        """Nothing to do: the owning process (or its death) stops the stack."""

    def services(self) -> tuple[Service, ...]:
        names = set(self.ports) | set(self.pids) | ({Service.RECEIVER.value} if self.receiver_url else set())
        return tuple(s for s in Service if s.value in names)

    def endpoint(self, service: Service) -> Endpoint:
        if service == Service.RECEIVER and self.receiver_url:
            parts = urlsplit(str(self.receiver_url))
            return Endpoint(parts.hostname or "127.0.0.1", parts.port or 80, parts.scheme or "http")
        proxied = f"proxy_{service.value}"
        if self.with_proxy and proxied in self.ports:
            return Endpoint("127.0.0.1", self.ports[proxied], _SCHEMES.get(service, "http"))
        return self.direct_endpoint(service)

    def direct_endpoint(self, service: Service) -> Endpoint:
        port = self.ports.get(service.value)
        if port is None:
            raise StackError(f"stack.json in {self.run_dir} has no port for {service.value}")
        return Endpoint("127.0.0.1", port, _SCHEMES.get(service, "http"))

    def _pid(self, service: Service) -> int | None:
        if service == Service.TARGET:
            try:
                status = json.loads((self.run_dir / "target-supervisor.json").read_text())
            except (OSError, ValueError):
                return None
            child = status.get("child_pid")
            return int(child) if child else None
        return self.pids.get(service.value)

    def status(self, service: Service) -> ServiceStatus:
        pid = self._pid(service)
        if pid is None:
            return ServiceStatus.ABSENT
        state = process_state(pid)
        if state is None or state == "Z":
            return ServiceStatus.STOPPED
        return ServiceStatus.PAUSED if state == "T" else ServiceStatus.RUNNING

    def control(self, service: Service, action: ServiceAction) -> None:
        sig = _SIGNALS.get(action)
        pid = self._pid(service)
        if sig is None:
            raise ServiceControlError(f"an attached stack cannot {action.value} {service.value}")
        if pid is None or not pid_alive(pid):
            raise ServiceControlError(f"{service.value} has no running process")
        if service == Service.POSTGRES and action == ServiceAction.STOP:
            sig = signal.SIGINT  # fast shutdown: do not wait for clients to leave
        try:
            if service == Service.TARGET:
                os.kill(pid, sig)
            else:
                os.killpg(pid, sig)  # each service runs in its own session
        except ProcessLookupError as exc:
            raise ServiceControlError(f"{service.value} process {pid} is gone") from exc


def read_stack_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((run_dir / "stack.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StackError(f"unreadable {run_dir / 'stack.json'}: {exc}") from exc
    return state if isinstance(state, dict) else None


def attach_stack(run_dir: Path) -> AttachedStack | None:
    """The stack recorded in ``run_dir``, or None when it is gone (no record or no live process)."""
    state = read_stack_state(run_dir)
    if state is None:
        return None
    stack = AttachedStack(run_dir, state)
    return stack if stack.alive() else None
