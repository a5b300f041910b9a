"""The Stack interface contract, run against every backend the same way.

Parametrised over: a local-process double (real child processes on loopback,
controlled with signals), DockerStack driven through the recording fake docker
client, and (integration) the real LocalStack. Each must pass the very same tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker_fakes import FakeCompose, FakeDockerClient, FakeReceiver

from harness.clock import FakeClock
from harness.errors import ServiceControlError, StackError
from harness.stack.base import Endpoint, Service, ServiceAction, ServiceStatus, Stack, StackState
from harness.stack.docker import DockerSettings, DockerStack
from harness.stack.procs import free_port, process_state
from harness.stack.wait import Predicate, TcpPortOpen, wait_for

PLAIN = Service.PROMETHEUS  # a service every backend runs without a restart policy


class ProcessStack(Stack):
    """Local-process double: each service is a real `python -m http.server` on 127.0.0.1."""

    backend = "process-double"

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.ports = {Service.PROMETHEUS: free_port(), Service.TARGET: free_port()}
        self.procs: dict[Service, subprocess.Popen[bytes]] = {}

    def services(self) -> tuple[Service, ...]:
        return tuple(self.ports)

    def endpoint(self, service: Service) -> Endpoint:
        if service not in self.ports:
            raise StackError(f"no {service.value}")
        return Endpoint("127.0.0.1", self.ports[service])

    def _spawn(self, service: Service) -> None:
        port = self.ports[service]
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.run_dir,
        )
        wait_for(TcpPortOpen("127.0.0.1", port), timeout=20)

    def up(self) -> None:
        self.state = StackState.STARTING
        for service in self.ports:
            self._spawn(service)
        self.state = StackState.READY

    def down(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait(10)
        self.procs.clear()
        self.state = StackState.STOPPED

    def status(self, service: Service) -> ServiceStatus:
        proc = self.procs.get(service)
        if proc is None:
            return ServiceStatus.ABSENT
        if proc.poll() is not None:
            return ServiceStatus.STOPPED
        return ServiceStatus.PAUSED if process_state(proc.pid) == "T" else ServiceStatus.RUNNING

    def control(self, service: Service, action: ServiceAction) -> None:
        proc = self.procs.get(service)
        if proc is None:
            raise ServiceControlError(f"no {service.value} process")
        running = proc.poll() is None
        if action == ServiceAction.START:
            if not running:
                self._spawn(service)
            return
        if action == ServiceAction.RESTART:
            if running:
                proc.terminate()
                proc.wait(10)
            self._spawn(service)
            return
        if not running:
            if action == ServiceAction.STOP:
                return
            raise ServiceControlError(f"{service.value} is not running")
        sig = {ServiceAction.STOP: signal.SIGTERM, ServiceAction.KILL: signal.SIGKILL,
               ServiceAction.PAUSE: signal.SIGSTOP, ServiceAction.RESUME: signal.SIGCONT}[action]
        if action == ServiceAction.STOP:
            os.kill(proc.pid, signal.SIGCONT)
        os.kill(proc.pid, sig)
        if action in (ServiceAction.STOP, ServiceAction.KILL):
            proc.wait(10)
        elif action in (ServiceAction.PAUSE, ServiceAction.RESUME):
            want_stopped = action == ServiceAction.PAUSE  # signal delivery is asynchronous
            wait_for(Predicate(lambda: (process_state(proc.pid) == "T") == want_stopped, "signal delivered"),
                     timeout=10)


def docker_with_fake(tmp_path: Path) -> Stack:
    client = FakeDockerClient()
    settings = DockerSettings(run_dir=tmp_path, http_checks=False, clock=FakeClock(), ready_timeout_s=5)
    return DockerStack(settings, client=client, compose=FakeCompose(client),
                       receiver_factory=FakeReceiver, bindable=lambda h: False)


def local_stack(tmp_path: Path) -> Stack:
    from harness.stack.local import LocalSettings, LocalStack

    return LocalStack(LocalSettings(run_dir=tmp_path, with_proxy=False, wait_first_scrape=False))


BACKENDS: list[object] = [
    pytest.param(ProcessStack, id="process-double"),
    pytest.param(docker_with_fake, id="docker-fake-engine"),
    pytest.param(local_stack, id="local-real", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    factory: Callable[[Path], Stack] = request.param
    made = factory(tmp_path)
    try:
        made.up()
        yield made
    finally:
        made.down()


def test_up_makes_every_service_reachable_on_loopback(stack: Stack) -> None:
    assert stack.state == StackState.READY
    assert Service.TARGET in stack.services() and PLAIN in stack.services()
    for service in stack.services():
        if service == Service.RECEIVER:
            continue
        endpoint = stack.endpoint(service)
        assert endpoint.host == "127.0.0.1" and 0 < endpoint.port < 65536, service
        assert stack.direct_endpoint(service).host == "127.0.0.1"
        assert stack.status(service) == ServiceStatus.RUNNING, service


def test_pause_and_resume(stack: Stack) -> None:
    stack.control(PLAIN, ServiceAction.PAUSE)
    assert stack.status(PLAIN) == ServiceStatus.PAUSED
    stack.control(PLAIN, ServiceAction.RESUME)
    assert stack.status(PLAIN) == ServiceStatus.RUNNING


def test_stop_then_start(stack: Stack) -> None:
    stack.control(PLAIN, ServiceAction.STOP)
    assert stack.status(PLAIN) == ServiceStatus.STOPPED
    stack.control(PLAIN, ServiceAction.STOP)  # stopping a stopped service is harmless
    stack.control(PLAIN, ServiceAction.START)
    assert stack.status(PLAIN) == ServiceStatus.RUNNING


def test_kill_then_start(stack: Stack) -> None:
    stack.control(PLAIN, ServiceAction.KILL)
    assert stack.status(PLAIN) == ServiceStatus.STOPPED
    stack.control(PLAIN, ServiceAction.START)
    assert stack.status(PLAIN) == ServiceStatus.RUNNING


def test_restart(stack: Stack) -> None:
    stack.control(PLAIN, ServiceAction.RESTART)
    assert stack.status(PLAIN) == ServiceStatus.RUNNING


def test_pausing_a_stopped_service_is_a_control_error(stack: Stack) -> None:
    stack.control(PLAIN, ServiceAction.STOP)
    with pytest.raises(ServiceControlError):
        stack.control(PLAIN, ServiceAction.PAUSE)
    stack.control(PLAIN, ServiceAction.START)


def test_controlling_something_not_run_as_a_process_is_refused(stack: Stack) -> None:
    with pytest.raises(ServiceControlError):
        stack.control(Service.RECEIVER, ServiceAction.KILL)


def test_down_is_idempotent_and_leaves_nothing_running(stack: Stack) -> None:
    stack.down()
    stack.down()
    assert stack.state == StackState.STOPPED
    for service in stack.services():
        assert stack.status(service) != ServiceStatus.RUNNING, service


@pytest.mark.parametrize("factory", [ProcessStack, docker_with_fake])
def test_context_manager_tears_down_on_error(tmp_path: Path, factory: Callable[[Path], Stack]) -> None:
    made = factory(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), made:
        assert made.state == StackState.READY
        raise RuntimeError("boom")
    assert made.state == StackState.STOPPED
    assert made.status(PLAIN) != ServiceStatus.RUNNING
