"""The target's supervisor: restarts it like Kubernetes and enforces a memory limit.

``python -m harness.stack.supervisor --name target --status-file F [--memory-limit-mb N]
[--backoff 0.2] -- CMD...`` runs CMD and restarts it whenever it exits (backoff
doubling up to 5 s, reset after 30 s up). Each child gets ``DEMO_RESTART_COUNT`` and
``DEMO_LAST_EXIT_REASON`` (``oom_killed``, ``killed``, ``exited:<code>``, ``none``);
``F`` is rewritten atomically on every change (:class:`SupervisorStatus`).

The memory limit is a cgroup (v2, else v1 ``memory``) created under the
supervisor's own cgroup, so the kernel OOM-kills the child; when no cgroup can
be created, a watchdog polls the child's RSS every 0.1 s and SIGKILLs it above
the limit. The supervisor dies with its parent (``PR_SET_PDEATHSIG``), its
child dies with it, and SIGTERM/SIGINT terminate the child before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from pydantic import BaseModel, ConfigDict

from harness.stack.lifeline import set_parent_death_signal
from harness.stack.memlimit import WATCHDOG_POLL_S, MemoryLimit, MemoryLimitMode, make_limit

log = logging.getLogger("harness.stack.supervisor")

MAX_BACKOFF_S = 5.0
RESET_AFTER_S = 30.0
TERMINATE_GRACE_S = 10.0


class SupervisorStatus(BaseModel):
    """The status file's format."""

    model_config = ConfigDict(extra="forbid")
    supervisor_pid: int
    child_pid: int | None
    restarts: int
    last_exit_reason: str
    memory_limit_mode: MemoryLimitMode
    memory_limit_mb: int | None = None
    started_at: datetime


def supervisor_command(
    name: str,
    status_file: Path,
    memory_limit_mb: int | None,
    child_cmd: list[str],
    backoff_s: float = 0.2,
    memory_limit_mode: str = "auto",
) -> list[str]:
    """The command line that runs ``child_cmd`` under the supervisor (same interpreter).

    ``memory_limit_mode``: ``auto`` (cgroup if possible, else watchdog), ``cgroup`` (fail
    without one) or ``watchdog`` (never try a cgroup).
    """
    cmd = [sys.executable, "-m", "harness.stack.supervisor", "--name", name]
    cmd += ["--status-file", str(status_file)]
    if memory_limit_mb is not None:
        cmd += ["--memory-limit-mb", str(memory_limit_mb), "--memory-limit-mode", memory_limit_mode]
    return [*cmd, "--backoff", str(backoff_s), "--", *child_cmd]


def limits_file(status_file: Path) -> Path:
    """Where a stack asks the supervisor for another memory limit: ``{"memory_limit_mb": N}``.

    The supervisor applies it within a poll interval, to the running child too (like raising a
    container's limit), and reports it as ``memory_limit_mb`` in the status file."""
    return status_file.with_name(status_file.stem + ".limits.json")


def read_status(status_file: Path) -> SupervisorStatus:
    return SupervisorStatus.model_validate_json(status_file.read_bytes())


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# -- memory limits -------------------------------------------------------------------


class Supervisor:
    def __init__(
        self,
        name: str,
        status_file: Path,
        child_cmd: Sequence[str],
        limit: MemoryLimit,
        backoff_s: float = 0.2,
        memory_limit_mb: int | None = None,
    ) -> None:
        self.name, self.status_file, self.child_cmd, self.limit = name, status_file, list(child_cmd), limit
        self.initial_backoff_s = backoff_s
        self.restarts = 0
        self.last_exit_reason = "none"
        self.started_at = datetime.now(UTC)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.memory_limit_mb = memory_limit_mb
        self._limits_mtime: float | None = None

    def request_stop(self, signum: int, frame: FrameType | None = None) -> None:
        log.warning("%s: signal %d, stopping", self.name, signum)
        self.stopping = True

    def write_status(self) -> None:
        alive = self.child is not None and self.child.poll() is None
        status = SupervisorStatus(
            supervisor_pid=os.getpid(),
            child_pid=self.child.pid if alive and self.child is not None else None,
            restarts=self.restarts,
            last_exit_reason=self.last_exit_reason,
            memory_limit_mode=self.limit.mode,
            memory_limit_mb=self.memory_limit_mb,
            started_at=self.started_at,
        )
        atomic_write(self.status_file, status.model_dump_json().encode())

    def _preexec(self) -> None:
        set_parent_death_signal(signal.SIGTERM)
        self.limit.join()

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["DEMO_RESTART_COUNT"] = str(self.restarts)
        env["DEMO_LAST_EXIT_REASON"] = self.last_exit_reason
        self.limit.before_start()
        child = subprocess.Popen(self.child_cmd, env=env, preexec_fn=self._preexec)
        log.warning("%s: started child %d (restart %d)", self.name, child.pid, self.restarts)
        return child

    def apply_limits(self) -> None:
        """Take a new memory limit from the limits file when it changed (a runbook raising headroom)."""
        path = limits_file(self.status_file)
        try:
            mtime = path.stat().st_mtime
            if mtime == self._limits_mtime:
                return
            self._limits_mtime = mtime
            wanted = int(json.loads(path.read_text())["memory_limit_mb"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if wanted <= 0 or wanted == self.memory_limit_mb or self.limit.mode == MemoryLimitMode.NONE:
            return
        try:
            self.limit.set_limit(wanted * 1024 * 1024)
        except OSError as exc:
            log.error("%s: cannot set the memory limit to %d MB: %s", self.name, wanted, exc)
            return
        log.warning("%s: memory limit %s MB -> %d MB", self.name, self.memory_limit_mb, wanted)
        self.memory_limit_mb = wanted
        self.write_status()

    def _watch(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for the child to exit (enforcing the limit, honouring stop requests)."""
        while True:
            code = child.poll()
            if code is not None:
                return code
            if self.stopping:
                return self._terminate(child)
            self.apply_limits()
            self.limit.exceeded(child.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                return child.wait(WATCHDOG_POLL_S)

    def _terminate(self, child: subprocess.Popen[bytes]) -> int:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        try:
            return child.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("%s: child %d ignored SIGTERM, SIGKILL", self.name, child.pid)
            child.kill()
            return child.wait()

    def exit_reason(self, code: int) -> str:
        if code >= 0:
            return f"exited:{code}"
        if -code == signal.SIGKILL and self.limit.oom_killed():
            return "oom_killed"
        return "killed"

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))

    def run(self) -> int:
        backoff = self.initial_backoff_s
        try:
            self.child = self._spawn()
        except OSError as exc:
            log.error("%s: cannot start %s: %s", self.name, self.child_cmd, exc)
            return 2
        while True:
            self.write_status()
            started = time.monotonic()
            code = self._watch(self.child)
            if self.stopping:
                self.write_status()
                return 0
            self.last_exit_reason = self.exit_reason(code)
            if time.monotonic() - started >= RESET_AFTER_S:
                backoff = self.initial_backoff_s
            log.warning(
                "%s: child %d ended (%s); restarting in %.1fs",
                self.name,
                self.child.pid,
                self.last_exit_reason,
                backoff,
            )
            self.restarts += 1
            self.write_status()
            self._sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            if self.stopping:
                return 0
            try:
                self.child = self._spawn()
            except OSError as exc:
                log.error("%s: cannot restart: %s", self.name, exc)
                self.last_exit_reason = "exited:127"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.stack.supervisor", description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--status-file", required=True, type=Path)
    parser.add_argument("--memory-limit-mb", type=int, default=None)
    parser.add_argument("--memory-limit-mode", choices=("auto", "cgroup", "watchdog"), default="auto")
    parser.add_argument("--backoff", type=float, default=0.2, help="first restart delay (s)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD...")
    args = parser.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error("a command to supervise is required after --")
    if args.memory_limit_mb is not None and args.memory_limit_mb <= 0:
        parser.error("--memory-limit-mb must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parent = os.getppid()
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        return 1
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s supervisor %(levelname)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        limit = make_limit(args.name, args.memory_limit_mb, args.memory_limit_mode)
    except OSError as exc:
        log.error("%s: %s", args.name, exc)
        return 2
    supervisor = Supervisor(
        args.name, args.status_file, args.cmd, limit, args.backoff, memory_limit_mb=args.memory_limit_mb
    )
    handler: Callable[[int, FrameType | None], None] = supervisor.request_stop
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    log.warning("%s: memory limit mode %s", args.name, limit.mode)
    try:
        return supervisor.run()
    finally:
        child = supervisor.child
        if child is not None and child.poll() is None:
            supervisor._terminate(child)
        supervisor.write_status()
        limit.close()


if __name__ == "__main__":
    sys.exit(main())
