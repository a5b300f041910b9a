"""Child processes of the local stack: start, signal, stop — and never orphaned.

Every child gets its own session (so signals reach its whole process group,
e.g. Postgres' backends) and a parent-death signal, so it dies with the
harness even when the harness is killed with SIGKILL.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.errors import ServiceControlError, ServiceStartError
from harness.stack.base import ServiceStatus
from harness.stack.lifeline import set_parent_death_signal

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. So every
# child is forked from this one thread, which lives as long as the harness process: a service
# (re)started from a short-lived thread (a fault's TTL timer, a runbook worker) does not die with it.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-spawner")


def spawn(argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` from the long-lived spawner thread (see above)."""
    return _SPAWNER.submit(lambda: subprocess.Popen(list(argv), **popen_kwargs)).result()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _preexec(user: str | None, death_signal: int) -> Callable[[], None]:
    ids = pwd.getpwnam(user) if user and os.geteuid() == 0 else None

    def run_in_child() -> None:
        os.setsid()
        if ids is not None:
            os.setgroups([])
            os.setgid(ids.pw_gid)
            os.setuid(ids.pw_uid)
        # set after the uid change: changing credentials clears the setting
        set_parent_death_signal(death_signal)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os.kill(os.getpid(), death_signal)

    return run_in_child


@dataclass
class ProcessSpec:
    """How to (re)start one service process."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    death_signal: int = signal.SIGTERM
    stop_timeout: float = 10.0


@dataclass
class ManagedProcess:
    """One running service process and its process group."""

    spec: ProcessSpec
    process: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        with self._lock:
            if self.running():
                return
            self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ if self.spec.env is None else self.spec.env)
            with open(self.spec.log_path, "ab") as log:
                try:
                    self.process = spawn(
                        self.spec.argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=self.spec.cwd,
                        preexec_fn=_preexec(self.spec.user, self.spec.death_signal),
                        close_fds=True,
                    )
                except OSError as exc:
                    raise ServiceStartError(f"cannot start {self.spec.name}: {exc}") from exc

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def status(self) -> ServiceStatus:
        if not self.running() or self.pid is None:
            return ServiceStatus.STOPPED
        return ServiceStatus.PAUSED if process_state(self.pid) == "T" else ServiceStatus.RUNNING

    def signal_group(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            raise ServiceControlError(f"{self.spec.name} is not running")
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError as exc:
            raise ServiceControlError(f"{self.spec.name} is not running") from exc

    def pause(self) -> None:
        self.signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole group, as an OOM killer or `docker kill` would."""
        if not self.running():
            return
        with contextlib.suppress(ServiceControlError):
            self.signal_group(signal.SIGKILL)
        self._reap(5.0)

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop, then SIGKILL the group after ``timeout``. Idempotent."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ServiceControlError):
                self.signal_group(signal.SIGCONT)  # a paused process cannot handle SIGTERM
                self.signal_group(self.spec.stop_signal)
            try:
                self.process.wait(timeout=self.spec.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ServiceControlError):
                    self.signal_group(signal.SIGKILL)
        self._reap(5.0)

    def _reap(self, timeout: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        # whatever is left of the group (e.g. postgres backends) goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc/PID/stat (R, S, T, Z...), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state != "Z"


def started_before(pid: int, when: float) -> bool:
    """Whether ``pid`` is a process that already existed at unix time ``when`` (not a reused pid)."""
    try:
        return bool(psutil.Process(pid).create_time() <= when + 1.0)
    except psutil.Error:
        return False


def terminate_pids(
    pids: Sequence[int], timeout: float = 5.0, group: bool = True, recorded_at: float | None = None
) -> list[int]:
    """SIGCONT+SIGTERM each pid (its process group when ``group``), SIGKILL what is left.

    With ``recorded_at`` (when the pids were written down), a pid whose process started later is a
    reused pid of some unrelated process and is left alone. Returns the pids that were alive.
    """
    send = os.killpg if group else os.kill
    alive = [pid for pid in pids if pid_alive(pid)]
    if recorded_at is not None:
        alive = [pid for pid in alive if started_before(pid, recorded_at)]
    for pid in alive:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                send(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in alive):
        time.sleep(0.05)
    for pid in alive:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                send(pid, signal.SIGKILL)
    return alive
