"""Run ``docker compose`` (v2 plugin, or the v1 ``docker-compose`` binary) with bounded time.

testcontainers' ``DockerCompose`` runs the same CLI, but without a project
name, a time limit or a per-call env file; DockerStack needs all three (a
hung ``compose up`` must not hang a drill, and ``drillctl cleanup`` must be
able to tear a stack down from its recorded env file). :class:`ComposeRunner`
is the seam tests replace with a recording fake.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from harness.errors import BackendUnavailable, ServiceStartError, StackError


class ComposeRunner(Protocol):
    def up(self, env_file: Path) -> None: ...
    def down(self, env_file: Path) -> None: ...


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def find_compose_command(which: Callable[[str], str | None] = shutil.which,
                         run: Runner = subprocess.run) -> list[str]:
    """``docker compose`` when the v2 plugin answers, else ``docker-compose``; else BackendUnavailable."""
    if which("docker"):
        try:
            probe = run(["docker", "compose", "version"], capture_output=True, text=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is not None and probe.returncode == 0:
            return ["docker", "compose"]
    legacy = which("docker-compose")
    if legacy:
        return [legacy]
    raise BackendUnavailable(
        "neither `docker compose` (Compose v2 plugin) nor `docker-compose` is installed; "
        "install Docker Compose v2 (Debian/Ubuntu: docker-compose-plugin from Docker's repository)"
    )


class ComposeCli:
    """``docker compose -p PROJECT -f FILE --env-file ENV up -d --build`` / ``down -v``."""

    def __init__(
        self,
        compose_file: Path,
        project: str,
        *,
        timeout_s: float = 900.0,
        build: bool = True,
        command: Sequence[str] | None = None,
        run: Runner = subprocess.run,
    ) -> None:
        self.compose_file = compose_file.resolve()
        self.project = project
        self.timeout_s = timeout_s
        self.build = build
        self._command = list(command) if command is not None else None
        self._run = run

    @property
    def command(self) -> list[str]:
        if self._command is None:
            self._command = find_compose_command(run=self._run)
        return self._command

    def base_args(self, env_file: Path) -> list[str]:
        return [*self.command, "-p", self.project, "-f", str(self.compose_file), "--env-file", str(env_file)]

    def up(self, env_file: Path) -> None:
        args = [*self.base_args(env_file), "up", "-d", "--remove-orphans"]
        if self.build:
            args.append("--build")
        self._invoke(args, ServiceStartError, "up")

    def down(self, env_file: Path) -> None:
        args = [*self.base_args(env_file), "down", "-v", "--remove-orphans", "--timeout", "10"]
        self._invoke(args, StackError, "down")

    def describe_down(self, env_file: Path) -> list[str]:
        """The teardown command line, recorded in stack.json for ``drillctl cleanup``."""
        command = self._command or ["docker", "compose"]
        return [*command, "-p", self.project, "-f", str(self.compose_file), "--env-file", str(env_file),
                "down", "-v", "--remove-orphans"]

    def _invoke(self, args: list[str], error: type[StackError], verb: str) -> None:
        try:
            result = self._run(args, capture_output=True, text=True, timeout=self.timeout_s,
                               cwd=str(self.compose_file.parent))
        except subprocess.TimeoutExpired as exc:
            raise error(f"docker compose {verb} did not finish in {self.timeout_s:.0f}s") from exc
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {args[0]}: {exc}") from exc
        if result.returncode != 0:
            tail = "\n    ".join((result.stderr or result.stdout or "").strip().splitlines()[-15:])
            raise error(f"docker compose {verb} failed (exit {result.returncode}):\n    {tail}")
