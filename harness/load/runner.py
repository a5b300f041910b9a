"""Run Locust headless as subprocesses for one drill.

gevent (Locust) and asyncio (the harness) must not share a process, so Locust
always runs as a child: one local process, or a master plus N workers on
loopback (``LoadSpec.workers``). Whatever happens to the harness, Locust stops:
a hard ``--run-time`` bound is always set (the shapes honour it too), and each
child gets ``PR_SET_PDEATHSIG`` so it is told to quit when the harness dies.

    runner = LoadRunner(spec, base_url, run_dir)
    runner.start()              # waits until requests flow; marks "before"
    runner.mark_phase("during") # at fault injection
    runner.mark_phase("after")  # at recovery
    summary = runner.stop()     # LoadSummary

Output lives in ``run_dir/load/``: Locust's CSV and JSON stats, one log per
process, ``requests/*.jsonl`` (per-request records) and ``summary.json``.

PR_SET_PDEATHSIG fires when the *thread* that started the child exits, so children are
forked from the harness's long-lived spawner thread (``harness.stack.procs.spawn``).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import ValidationError

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ConfigError, ServiceControlError, ServiceStartError
from harness.load.models import LoadSpec, LoadSummary, Phase, PhaseMark, RequestRecord
from harness.paths import fixtures_dir
from harness.stack.lifeline import die_with_parent
from harness.stack.procs import free_port, spawn
from harness.stack.wait import Predicate, ProcessAlive, WaitStrategy, wait_for

SHAPES_FILE = "shapes.py"
EVENTS_FILE = "drill_events.py"


class LoadState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


def load_dir() -> Path:
    """``fixtures/load``: the shipped profiles, shapes and ``drill_events``."""
    return fixtures_dir() / "load"


def resolve_profile(profile: str) -> Path:
    """A shipped profile name (``demo_users``) or a path to a locustfile."""
    candidate = Path(profile).expanduser()
    if candidate.suffix != ".py" and "/" not in profile:
        candidate = load_dir() / f"{profile}.py"
    if not candidate.is_file():
        shipped = sorted(p.stem for p in load_dir().glob("*.py") if p.stem not in {"shapes", "drill_events"})
        raise ConfigError(
            f"load profile {profile!r} not found ({candidate}); shipped profiles: {', '.join(shipped)}"
        )
    return candidate.resolve()


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class LoadRunner:
    """Locust for one drill. See the module docstring."""

    def __init__(
        self,
        spec: LoadSpec,
        base_url: str,
        run_dir: Path,
        *,
        clock: Clock = SYSTEM_CLOCK,
        python: str = sys.executable,
    ) -> None:
        self.spec = spec
        self.base_url = base_url.rstrip("/")
        self.output_dir = Path(run_dir) / "load"
        self.requests_dir = self.output_dir / "requests"
        self.clock = clock
        self.python = python
        self.locustfiles = [resolve_profile(spec.profile), load_dir() / EVENTS_FILE]
        if spec.shape is not None:
            self.locustfiles.append(load_dir() / SHAPES_FILE)
        self.state = LoadState.CREATED
        self.marks: list[PhaseMark] = []
        self.master_port: int | None = None
        self._procs: list[_Proc] = []
        self._summary: LoadSummary | None = None
        self._started = clock.now()

    # -- command lines -------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.env)
        path = [str(load_dir()), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(path),
                "PYTHONUNBUFFERED": "1",
                "DRILL_REQUEST_LOG_DIR": str(self.requests_dir),
                "DRILL_RATE_PER_USER": repr(self.spec.rate_per_user),
                "DRILL_USERS": str(self.spec.users),
                "DRILL_SPAWN_RATE": repr(self.spec.spawn_rate),
                "DRILL_MAX_SECONDS": repr(self.spec.max_seconds),
                "DRILL_SHAPE": self.spec.shape.value if self.spec.shape else "steady",
                "DRILL_SPIKE_AFTER_S": repr(self.spec.spike_after_s),
                "DRILL_SPIKE_DURATION_S": repr(self.spec.spike_duration_s),
                "DRILL_SPIKE_MULTIPLIER": repr(self.spec.spike_multiplier),
                "DRILL_RAMP_SECONDS": repr(self.spec.ramp_seconds),
                "DRILL_SOAK_RAMP_SECONDS": repr(self.spec.soak_ramp_seconds),
            }
        )
        return env

    def command(self, role: str, master_port: int | None = None) -> list[str]:
        """The Locust command line for ``role``: ``local``, ``master`` or ``worker``."""
        files = ",".join(str(f) for f in self.locustfiles)
        cmd = [self.python, "-m", "locust", "-f", files, "--host", self.base_url, "--loglevel", "INFO"]
        if role == "worker":
            if master_port is None:
                raise ValueError("a worker needs the master's port")
            return [*cmd, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)]
        if role not in {"local", "master"}:
            raise ValueError(f"unknown locust role {role!r}")
        prefix = self.output_dir / "locust"
        cmd += [
            "--headless",
            "--only-summary",
            "-u",
            str(self.spec.users),
            "-r",
            repr(self.spec.spawn_rate),
            "--run-time",
            f"{math.ceil(self.spec.max_seconds)}s",
            "--csv",
            str(prefix),
            "--json-file",
            str(prefix) + "_stats",
        ]
        if role == "master":
            if master_port is None:
                raise ValueError("a master needs a bind port")
            cmd += [
                "--master",
                "--expect-workers",
                str(self.spec.workers),
                "--expect-workers-max-wait",
                str(math.ceil(self.spec.start_timeout_s)),
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(master_port),
            ]
        return cmd

    # -- lifecycle -----------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        log_path = self.output_dir / f"locust-{name}.log"
        log_file = log_path.open("ab")
        try:
            popen = spawn(  # from the harness's long-lived spawner thread
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.output_dir,
                start_new_session=True,
                # SIGINT, not SIGTERM: with a shape, Locust installs its SIGTERM handler only after
                # the shape ends, while Ctrl-C (KeyboardInterrupt) always shuts it down cleanly
                preexec_fn=die_with_parent(signal.SIGINT),
            )
        except OSError as exc:
            log_file.close()
            raise ServiceStartError(f"cannot start locust {name}: {exc}") from exc
        self._procs.append(_Proc(name, popen, log_path, log_file))

    def start(self, *, wait_for_traffic: bool = True) -> None:
        """Start Locust; by default wait until the first request records are written."""
        if self.state is not LoadState.CREATED:
            raise ServiceControlError(f"load runner is {self.state.value}; it starts once")
        self.requests_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        self._started = self.clock.now()
        if not self.marks:
            self.marks.append(PhaseMark(name=Phase.BEFORE.value, wall=self._started))
        self.state = LoadState.RUNNING
        try:
            if self.spec.workers:
                self.master_port = free_port()
                self._spawn("master", self.command("master", self.master_port), env)
                for index in range(1, self.spec.workers + 1):
                    self._spawn(f"worker-{index}", self.command("worker", self.master_port), env)
            else:
                self._spawn("local", self.command("local"), env)
            if wait_for_traffic:
                checks: list[WaitStrategy] = [
                    ProcessAlive(p.popen, f"locust {p.name}", p.log_path) for p in self._procs
                ]
                checks.append(Predicate(self._has_records, "locust writes request records"))
                wait_for(checks, timeout=self.spec.start_timeout_s, poll_interval=0.2, clock=self.clock)
        except BaseException:
            self.state = LoadState.FAILED
            self._terminate_all()
            raise

    def _has_records(self) -> bool:
        return any(p.stat().st_size > 0 for p in self.requests_dir.glob("*.jsonl"))

    def mark_phase(self, name: str, at: datetime | None = None) -> PhaseMark:
        """Record a phase boundary (now, or ``at``). ``before`` is marked by ``start()``; marking a
        phase that is already marked keeps the first mark (and returns it)."""
        existing = next((m for m in self.marks if m.name == name), None)
        if existing is not None:
            return existing
        mark = PhaseMark(name=name, wall=at or self.clock.now())
        self.marks.append(mark)
        return mark

    def pids(self) -> list[int]:
        """Process ids of the Locust processes (master or local first)."""
        return [p.popen.pid for p in self._procs]

    def running(self) -> bool:
        return self.state is LoadState.RUNNING and any(p.popen.poll() is None for p in self._procs)

    def records(self) -> list[RequestRecord]:
        """Every record written so far, sorted by start time (usable while running)."""
        out: list[RequestRecord] = []
        for path in sorted(self.requests_dir.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    out.append(RequestRecord.model_validate_json(line))
                except ValidationError:
                    continue  # a line cut short by a killed process
        out.sort(key=lambda r: r.t)
        return out

    def stop(self) -> LoadSummary:
        """Stop Locust gracefully (SIGINT; SIGTERM then SIGKILL if it hangs); summarise."""
        if self._summary is not None:
            return self._summary
        if self.state is LoadState.CREATED:
            raise ServiceControlError("load runner was never started")
        stopped = self.clock.now()
        self._terminate_all()
        records = self.records()
        self._summary = LoadSummary.from_records(
            records,
            started=self._started,
            stopped=stopped,
            marks=self.marks,
            workers=self.spec.workers,
            output_dir=self.output_dir,
            exit_codes=[p.popen.returncode for p in self._procs],
        )
        if self.state is LoadState.RUNNING:
            self.state = LoadState.STOPPED
        (self.output_dir / "summary.json").write_text(
            self._summary.model_dump_json(indent=2, exclude={"records"}), encoding="utf-8"
        )
        return self._summary

    def _terminate_all(self) -> None:
        """Master (or local) first: it tells workers to quit; then any worker left."""
        timeout = self.spec.stop_timeout_s
        first = [p for p in self._procs if p.name in {"local", "master"}]
        rest = [p for p in self._procs if p not in first]
        for group, grace in ((first, 0.0), (rest, min(5.0, timeout))):
            for proc in group:
                self._wait_or_signal(proc, grace)
        for proc in self._procs:
            with contextlib.suppress(OSError):
                proc.log_file.close()

    def _wait_or_signal(self, proc: _Proc, grace: float) -> None:
        popen = proc.popen
        if popen.poll() is None and grace > 0:
            # workers get "quit" from the master; give them a moment before signalling
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=grace)
        steps = ((signal.SIGINT, self.spec.stop_timeout_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
        for sig, wait_s in steps:
            if popen.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=wait_s)
        if popen.poll() is None:
            raise ServiceControlError(f"locust {proc.name} (pid {popen.pid}) did not exit after SIGKILL")

    def __enter__(self) -> LoadRunner:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state is not LoadState.CREATED:
            self.stop()
