"""The local stack against the real binaries: start-up, control, teardown, no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.errors import MissingBinaryError, ServiceControlError
from harness.stack.base import Service, ServiceAction, ServiceStatus
from harness.stack.local import LocalSettings, LocalStack, check_binaries
from harness.stack.procs import pid_alive
from harness.stack.wait import Predicate, wait_for

pytestmark = pytest.mark.integration
CHILD = Path(__file__).with_name("stack_child.py")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s = LocalStack(LocalSettings(run_dir=tmp_path_factory.mktemp("local-stack")))
    try:
        s.up()
        yield s
    finally:
        s.down()


def recorded_pids(run_dir: Path) -> list[int]:
    state = json.loads((run_dir / "stack.json").read_text())
    return [int(p) for p in state["pids"].values()]


def stack_pids_alive(run_dir: Path) -> list[int]:
    """Every process whose command line mentions the run dir (children of children included)."""
    alive = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(run_dir) in cmdline and pid_alive(int(proc.name)):
            alive.append(int(proc.name))
    return alive


def test_every_service_answers(stack: LocalStack) -> None:
    assert stack.startup_seconds["total"] < 60  # generous; the benchmark tracks the real figure
    urls = {
        Service.PROMETHEUS: "/-/ready",
        Service.ALERTMANAGER: "/-/ready",
        Service.TARGET: "/health/ready",
        Service.FAULT_PROXY: "/health",
        Service.RECEIVER: "/health",
    }
    for service, path in urls.items():
        assert httpx.get(stack.endpoint(service).url + path).status_code == 200, service
    c = stack.credentials
    ep = stack.direct_endpoint(Service.POSTGRES)
    dsn = f"postgresql://{c.postgres_user}:{c.postgres_password}@{ep.host}:{ep.port}/{c.postgres_db}"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for service in stack.services():
        assert stack.status(service) == ServiceStatus.RUNNING, service
    # the target goes through the proxy; its own port is different
    assert stack.endpoint(Service.TARGET) != stack.direct_endpoint(Service.TARGET)
    # prometheus scrapes the target already
    assert (stack.run_dir / "logs" / "prometheus.log").exists()
    assert oct((stack.run_dir / "stack.json").stat().st_mode & 0o777) == "0o600"


def test_postgres_runs_unprivileged(stack: LocalStack) -> None:
    proc = stack.procs[Service.POSTGRES]
    assert proc.pid is not None
    uid = os.stat(f"/proc/{proc.pid}").st_uid
    assert os.geteuid() != 0 or uid != 0


def test_redis_kill_and_start(stack: LocalStack) -> None:
    stack.control(Service.REDIS, ServiceAction.KILL)
    assert stack.status(Service.REDIS) == ServiceStatus.STOPPED
    stack.control(Service.REDIS, ServiceAction.START)
    assert stack.status(Service.REDIS) == ServiceStatus.RUNNING


def test_pause_and_resume(stack: LocalStack) -> None:
    stack.control(Service.REDIS, ServiceAction.PAUSE)
    try:
        assert stack.status(Service.REDIS) == ServiceStatus.PAUSED
    finally:
        stack.control(Service.REDIS, ServiceAction.RESUME)
    assert stack.status(Service.REDIS) == ServiceStatus.RUNNING


def test_target_kill_is_restarted_by_the_supervisor(stack: LocalStack) -> None:
    before = stack._target_child_pid()
    stack.control(Service.TARGET, ServiceAction.KILL)

    def restarted() -> bool:
        child = stack._target_child_pid()
        return child is not None and child != before

    wait_for(Predicate(restarted, "target restarted"), timeout=30)
    stack.wait_ready(Service.TARGET)
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING


def test_receiver_cannot_be_controlled(stack: LocalStack) -> None:
    with pytest.raises(ServiceControlError):
        stack.control(Service.RECEIVER, ServiceAction.STOP)


def test_missing_binary_names_the_apt_package() -> None:
    with pytest.raises(MissingBinaryError) as info:
        check_binaries(
            which=lambda name: None if name == "prometheus-alertmanager" else f"/bin/{name}",
            find_pg=lambda name: None,
        )
    assert "apt-get install -y prometheus-alertmanager" in str(info.value)


def _start_child(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path, list[int]]:
    run_dir = tmp_path / "child-stack"
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(run_dir), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    line = ""
    while time.monotonic() < deadline and "READY" not in line and proc.poll() is None:
        line = proc.stdout.readline()
    # read while the stack runs: a clean teardown rewrites stack.json with no pids
    pids = recorded_pids(run_dir) if (run_dir / "stack.json").exists() else []
    return proc, run_dir, pids


def _assert_no_orphans(run_dir: Path, pids: list[int]) -> None:
    assert len(pids) >= 6, pids

    def gone() -> bool:
        return not any(pid_alive(p) for p in pids) and not stack_pids_alive(run_dir)

    wait_for(Predicate(gone, "stack processes gone"), timeout=30, poll_interval=0.2)


@pytest.mark.parametrize("how", ["exception", "ctrl-c", "sigkill"])
def test_no_orphans_whatever_ends_the_harness(tmp_path: Path, how: str) -> None:
    proc, run_dir, pids = _start_child(tmp_path, "raise" if how == "exception" else "sleep")
    try:
        if how == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        elif how == "sigkill":
            proc.kill()
        proc.wait(timeout=60)
        _assert_no_orphans(run_dir, pids)
    finally:
        if proc.poll() is None:
            proc.kill()
        from harness.stack.procs import terminate_pids

        terminate_pids(pids)


def test_service_started_from_a_short_lived_thread_outlives_it(stack: LocalStack) -> None:
    """PR_SET_PDEATHSIG follows the forking thread: the stack forks from its own long-lived thread."""
    import threading

    stack.control(Service.REDIS, ServiceAction.KILL)
    worker = threading.Thread(target=stack.control, args=(Service.REDIS, ServiceAction.START))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    time.sleep(1.0)  # a parent-death signal would have arrived by now
    assert stack.status(Service.REDIS) == ServiceStatus.RUNNING


def test_memory_limit_of_the_target_changes_live(stack: LocalStack) -> None:
    before = stack.memory_limit(Service.TARGET)
    assert before == 256
    try:
        stack.set_memory_limit(Service.TARGET, 384)
        assert stack.memory_limit(Service.TARGET) == 384
    finally:
        stack.set_memory_limit(Service.TARGET, before)
    assert stack.memory_limit(Service.TARGET) == 256
    with pytest.raises(ServiceControlError):
        stack.set_memory_limit(Service.REDIS, 100)
