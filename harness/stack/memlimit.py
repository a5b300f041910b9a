"""Memory limits for the target's supervisor: a cgroup the kernel enforces, or a watchdog.

The cgroup (v2, else v1 ``memory``) is created under the supervisor's own cgroup, so the
kernel's OOM killer kills the child at the limit. When no cgroup can be created, a watchdog
polls the child's RSS every 0.1 s and SIGKILLs it above the limit; results say which.
"""

from __future__ import annotations

import contextlib
import logging
import os
from enum import StrEnum
from pathlib import Path

import psutil

from harness.errors import WaitTimeout
from harness.stack.wait import Predicate, wait_for

log = logging.getLogger("harness.stack.supervisor")

WATCHDOG_POLL_S = 0.1


class MemoryLimitMode(StrEnum):
    CGROUP = "cgroup"
    WATCHDOG = "watchdog"
    NONE = "none"


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

    def set_limit(self, limit_bytes: int) -> None:
        """Change the limit (live: it holds for the running child too)."""

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

    def set_limit(self, limit_bytes: int) -> None:
        self._configure(limit_bytes)

    def _configure(self, limit_bytes: int) -> None:
        if self.version == 2:
            (self.path / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (self.path / "memory.swap.max").write_text("0")
            return
        ram, swap = self.path / "memory.limit_in_bytes", self.path / "memory.memsw.limit_in_bytes"
        # the kernel keeps memsw >= the RAM limit: raise memsw first when growing, lower RAM first
        # when shrinking (no swap accounting here at all is fine: the RAM limit still holds)
        growing = limit_bytes >= int(ram.read_text())
        if growing:
            with contextlib.suppress(OSError):
                swap.write_text(str(limit_bytes))
        ram.write_text(str(limit_bytes))
        if not growing:
            with contextlib.suppress(OSError):
                swap.write_text(str(limit_bytes))
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

    def set_limit(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes

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


