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
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType

import psutil
from pydantic import BaseModel, ConfigDict

from harness.errors import WaitTimeout
from harness.stack.lifeline import set_parent_death_signal
from harness.stack.wait import Predicate, wait_for

log = logging.getLogger("harness.stack.supervisor")

MAX_BACKOFF_S = 5.0
RESET_AFTER_S = 30.0
WATCHDOG_POLL_S = 0.1
TERMINATE_GRACE_S = 10.0


class MemoryLimitMode(StrEnum):
    CGROUP = "cgroup"
    WATCHDOG = "watchdog"
    NONE = "none"


class SupervisorStatus(BaseModel):
    """The status file's format."""

    model_config = ConfigDict(extra="forbid")
    supervisor_pid: int
    child_pid: int | None
    restarts: int
    last_exit_reason: str
    memory_limit_mode: MemoryLimitMode
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


class MemoryLimit:
    """No limit; base class of the cgroup and watchdog limits."""

    mode = MemoryLimitMode.NONE

    def join(self) -> None:
        """Runs in the child between fork and exec."""

    def before_start(self) -> None:
        """Runs in the supervisor before each child starts."""

    def exceeded(self, pid: int) -> bool:
        """Polled while the child runs; True means the child was just killed for memory."""
        return False

    def oom_killed(self) -> bool:
        """After the child died of SIGKILL: was it the memory limit?"""
        return False

    def close(self) -> None:
        """Undo what the limit created."""


class CgroupLimit(MemoryLimit):
    """A child cgroup of our own with the limit set; the kernel OOM-kills inside it."""

    mode = MemoryLimitMode.CGROUP

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version
        self._procs = str(path / "cgroup.procs")
        self._kills_before = 0

    @classmethod
    def create(cls, name: str, limit_bytes: int) -> CgroupLimit | None:
        for version, parent in _own_cgroup_dirs():
            _remove_stale(parent)
            path = parent / f"drill-{name}-{os.getpid()}"
            try:
                path.mkdir()
            except OSError as exc:
                log.info("cannot create cgroup v%d under %s: %s", version, parent, exc)
                continue
            limit = cls(path, version)
            try:
                limit._configure(limit_bytes)
            except OSError as exc:
                log.info("cannot limit memory in cgroup v%d %s: %s", version, path, exc)
                limit.close()
                continue
            return limit
        return None

    def _configure(self, limit_bytes: int) -> None:
        if self.version == 2:
            (self.path / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (self.path / "memory.swap.max").write_text("0")
            return
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        with contextlib.suppress(OSError):  # no swap accounting here; the RAM limit still holds
            (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        written = int((self.path / "memory.limit_in_bytes").read_text())
        if abs(written - limit_bytes) > 1 << 16:
            raise OSError(f"memory.limit_in_bytes reads {written}, not {limit_bytes}")

    def _oom_kills(self) -> int:
        name, key = ("memory.events", "oom_kill") if self.version == 2 else ("memory.oom_control", "oom_kill")
        try:
            for line in (self.path / name).read_text().splitlines():
                field, _, value = line.partition(" ")
                if field == key:
                    return int(value)
            if self.version == 1:  # kernels before 4.13 have no oom_kill counter
                return int((self.path / "memory.failcnt").read_text())
        except (OSError, ValueError):
            pass
        return 0

    def join(self) -> None:
        with open(self._procs, "w") as handle:
            handle.write(str(os.getpid()))

    def before_start(self) -> None:
        self._kills_before = self._oom_kills()

    def oom_killed(self) -> bool:
        return self._oom_kills() > self._kills_before

    def close(self) -> None:
        def removed() -> bool:
            try:
                self.path.rmdir()
            except FileNotFoundError:
                return True
            except OSError:
                return False
            return True

        try:
            wait_for(Predicate(removed, f"cgroup {self.path} removed"), timeout=5.0, poll_interval=0.1)
        except WaitTimeout:
            log.warning("could not remove cgroup %s", self.path)


class WatchdogLimit(MemoryLimit):
    """Polls the child's RSS (with its descendants) and SIGKILLs it above the limit."""

    mode = MemoryLimitMode.WATCHDOG

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._fired = False

    def before_start(self) -> None:
        self._fired = False

    def exceeded(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return False
        if rss <= self.limit_bytes:
            return False
        log.warning("child %d uses %d bytes > limit %d: SIGKILL", pid, rss, self.limit_bytes)
        for p in reversed(procs):
            with contextlib.suppress(psutil.Error):
                p.kill()
        self._fired = True
        return True

    def oom_killed(self) -> bool:
        return self._fired


def _remove_stale(parent: Path) -> None:
    """Remove empty cgroups left by supervisors that were SIGKILLed (their pid is gone)."""
    with contextlib.suppress(OSError):
        for path in parent.glob("drill-*-*"):
            pid = path.name.rsplit("-", 1)[1]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                with contextlib.suppress(OSError):
                    path.rmdir()


def _own_cgroup_dirs() -> list[tuple[int, Path]]:
    """Our own cgroup directory per mounted hierarchy that has the memory controller, v2 first."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    own = {}
    for line in lines:
        hid, controllers, path = line.split(":", 2)
        own["v2" if hid == "0" else controllers] = path
    found: list[tuple[int, Path]] = []
    for mount in mounts:
        left, _, right = mount.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        root, point, fstype, options = fields[3], fields[4], rfields[0], rfields[2].split(",")
        if fstype == "cgroup2" and "v2" in own:
            rel = os.path.relpath(own["v2"], root)
            directory = Path(point) / rel
            with contextlib.suppress(OSError):
                if "memory" in (directory / "cgroup.controllers").read_text().split():
                    with contextlib.suppress(OSError):
                        (directory / "cgroup.subtree_control").write_text("+memory")
                    found.insert(0, (2, directory))
        elif fstype == "cgroup" and "memory" in options:
            key = next((k for k in own if "memory" in k.split(",")), None)
            if key is not None:
                found.append((1, Path(point) / os.path.relpath(own[key], root)))
    return found


def make_limit(name: str, memory_limit_mb: int | None, mode: str = "auto") -> MemoryLimit:
    """The memory limit for ``mode`` (auto/cgroup/watchdog); raise OSError if a cgroup is required but
    cannot be created."""
    if memory_limit_mb is None:
        return MemoryLimit()
    limit_bytes = memory_limit_mb * 1024 * 1024
    cgroup = CgroupLimit.create(name, limit_bytes) if mode != "watchdog" else None
    if cgroup is not None:
        return cgroup
    if mode == "cgroup":
        raise OSError("no cgroup with the memory controller can be created here")
    return WatchdogLimit(limit_bytes)


# -- the supervision loop ------------------------------------------------------------


class Supervisor:
    def __init__(
        self,
        name: str,
        status_file: Path,
        child_cmd: Sequence[str],
        limit: MemoryLimit,
        backoff_s: float = 0.2,
    ) -> None:
        self.name, self.status_file, self.child_cmd, self.limit = name, status_file, list(child_cmd), limit
        self.initial_backoff_s = backoff_s
        self.restarts = 0
        self.last_exit_reason = "none"
        self.started_at = datetime.now(UTC)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False

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

    def _watch(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for the child to exit (enforcing the limit, honouring stop requests)."""
        while True:
            code = child.poll()
            if code is not None:
                return code
            if self.stopping:
                return self._terminate(child)
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
    supervisor = Supervisor(args.name, args.status_file, args.cmd, limit, args.backoff)
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
