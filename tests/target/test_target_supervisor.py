"""The supervisor on its own (tiny child commands) and with the target under a memory limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from target_procs import PostgresServer, RedisServer, Target, TargetFactory

from harness.stack.memlimit import MemoryLimitMode
from harness.stack.supervisor import read_status, supervisor_command
from harness.stack.wait import Predicate, wait_for

pytestmark = pytest.mark.integration

REPORT_FILE_ENV = "TARGET_TEST_REPORT"


def metric(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in exposition")


def run_supervisor(tmp_path: Path, child: str, memory_limit_mb: int | None = None) -> subprocess.Popen[bytes]:
    cmd = supervisor_command(
        "unit", tmp_path / "status.json", memory_limit_mb, [sys.executable, "-c", child], backoff_s=0.05
    )
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_exit_codes_restart_with_env_and_backoff(tmp_path: Path) -> None:
    log = tmp_path / "children.jsonl"
    child = (
        "import json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps([os.environ['DEMO_RESTART_COUNT'],"
        " os.environ['DEMO_LAST_EXIT_REASON']]) + '\\n')\n"
        "sys.exit(3)\n"
    )
    process = run_supervisor(tmp_path, child)
    try:

        def four_runs() -> bool:
            return log.exists() and len(log.read_text().splitlines()) >= 4

        wait_for(Predicate(four_runs, "four child runs"), timeout=30, poll_interval=0.05)
        status = read_status(tmp_path / "status.json")
    finally:
        stop(process)
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert runs[:4] == [["0", "none"], ["1", "exited:3"], ["2", "exited:3"], ["3", "exited:3"]]
    assert status.restarts >= 3 and status.last_exit_reason == "exited:3"
    assert status.supervisor_pid == process.pid
    assert process.returncode == 0


def test_supervisor_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: killing the supervisor's parent takes supervisor and child down."""
    status_file = tmp_path / "status.json"
    cmd = supervisor_command(
        "orphan", status_file, None, [sys.executable, "-c", "import time; time.sleep(120)"]
    )
    parent_code = f"import subprocess, sys, time\nsubprocess.Popen({cmd!r})\ntime.sleep(120)\n"
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        wait_for(
            Predicate(
                lambda: status_file.exists() and read_status(status_file).child_pid is not None,
                "supervisor started its child",
            ),
            timeout=30,
            poll_interval=0.05,
            transient=(OSError, ValueError),
        )
        status = read_status(status_file)
        assert status.child_pid is not None
        parent.kill()
        parent.wait(10)

        def gone(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(
            Predicate(
                lambda: gone(status.supervisor_pid) and gone(status.child_pid or 0),
                "supervisor and child exited",
            ),
            timeout=30,
            poll_interval=0.1,
        )
    finally:
        stop(parent)


def test_memory_growth_is_oom_killed_and_restarted(
    target_factory: TargetFactory, postgres: PostgresServer, redis: RedisServer
) -> None:
    target = target_factory(postgres.url, redis.url, memory_limit_mb=120)
    target.wait_ready()
    first = target.status()
    assert first.memory_limit_mode in (MemoryLimitMode.CGROUP, MemoryLimitMode.WATCHDOG)
    with target.client() as client:
        started = client.post("/admin/debug/memory", json={"mb_per_second": 40}, headers=target.admin_headers)
        assert started.status_code == 200, started.text
        time.sleep(0.5)
        grown = metric(client.get("/metrics").text, "demo_memory_ballast_bytes")
        assert grown > 0
    after = target.wait_restarts(1, timeout=60)
    assert after.last_exit_reason == "oom_killed", target.log_tail()
    assert after.child_pid != first.child_pid
    target.wait_ready()
    with target.client() as client:
        metrics = client.get("/metrics").text
        state = client.get("/admin/state", headers=target.admin_headers).json()
    assert metric(metrics, "demo_process_restarts") == 1
    assert metric(metrics, "demo_memory_ballast_bytes") == 0
    assert state["restarts"] == 1
    print(f"memory limit mode used: {after.memory_limit_mode}")
    if report := os.environ.get(REPORT_FILE_ENV):
        Path(report).write_text(str(after.memory_limit_mode))


def test_memory_hook_frees_on_delete(target: Target) -> None:
    with target.client() as client:
        headers = target.admin_headers
        assert (
            client.post("/admin/debug/memory", json={"mb_per_second": 0}, headers=headers).status_code == 400
        )
        assert (
            client.post("/admin/debug/memory", json={"mb_per_second": 20}, headers=headers).status_code == 200
        )
        wait_for(
            Predicate(
                lambda: metric(client.get("/metrics").text, "demo_memory_ballast_bytes") > 4e6,
                "ballast grows",
            ),
            timeout=20,
            poll_interval=0.1,
        )
        freed = client.delete("/admin/debug/memory", headers=headers)
        assert freed.status_code == 200 and freed.json()["freed_bytes"] > 4e6
        assert metric(client.get("/metrics").text, "demo_memory_ballast_bytes") == 0


def test_sigint_also_stops(tmp_path: Path) -> None:
    process = run_supervisor(tmp_path, "import time; time.sleep(120)")
    try:
        wait_for(
            Predicate(
                lambda: (
                    (tmp_path / "status.json").exists()
                    and read_status(tmp_path / "status.json").child_pid is not None
                ),
                "child up",
            ),
            timeout=30,
            poll_interval=0.05,
            transient=(OSError, ValueError),
        )
        child = read_status(tmp_path / "status.json").child_pid
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert child is not None
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
    finally:
        stop(process)


GREEDY_CHILD = (
    "import time\n"
    "chunks = []\n"
    "for _ in range(60):\n"
    "    chunks.append(bytearray(b'x') * (10 * 1024 * 1024))\n"
    "    time.sleep(0.05)\n"
    "time.sleep(120)\n"
)


def own_cgroups(name: str) -> list[Path]:
    from harness.stack.memlimit import _own_cgroup_dirs

    return [path for _, parent in _own_cgroup_dirs() for path in parent.glob(f"drill-{name}-*")]


@pytest.mark.parametrize("mode", ["watchdog", "cgroup"])
def test_memory_limit_kills_greedy_child(tmp_path: Path, mode: str) -> None:
    status_file = tmp_path / "status.json"
    cmd = supervisor_command(
        f"greedy{mode}",
        status_file,
        80,
        [sys.executable, "-c", GREEDY_CHILD],
        backoff_s=5.0,
        memory_limit_mode=mode,
    )
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if mode == "cgroup":
            try:
                if process.wait(1.0) == 2:
                    pytest.skip("no memory cgroup can be created on this machine")
            except subprocess.TimeoutExpired:
                pass
            assert own_cgroups(f"greedy{mode}"), "the supervisor's cgroup exists while it runs"

        def oom_recorded() -> bool:
            return status_file.exists() and read_status(status_file).last_exit_reason == "oom_killed"

        wait_for(
            Predicate(oom_recorded, "an OOM kill is recorded"),
            timeout=60,
            poll_interval=0.05,
            transient=(OSError, ValueError),
        )
        status = read_status(status_file)
        assert status.memory_limit_mode == MemoryLimitMode(mode)
        assert status.restarts == 1
    finally:
        stop(process)
    assert process.returncode == 0
    assert not own_cgroups(f"greedy{mode}"), "the cgroup is removed when the supervisor exits"
