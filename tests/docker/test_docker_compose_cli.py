"""ComposeCli (the docker compose runner) with an injected subprocess runner; the real no-engine path."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from docker_fakes import FakeCompose, FakeDockerClient

from harness.errors import BackendUnavailable, ServiceStartError, StackError
from harness.stack.compose_cli import ComposeCli, find_compose_command
from harness.stack.docker import DockerSettings, DockerStack
from harness.stack.select import docker_engine_available


class Runs:
    def __init__(self, returncode: int = 0, stderr: str = "", raises: BaseException | None = None) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.returncode, self.stderr, self.raises = returncode, stderr, raises

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(args, self.returncode, "", self.stderr)


def test_up_and_down_command_lines(tmp_path: Path) -> None:
    runs = Runs()
    cli = ComposeCli(tmp_path / "docker-compose.yml", "chaos-drill", command=["docker", "compose"], run=runs,
                     timeout_s=42)
    env = tmp_path / "compose.env"
    cli.up(env)
    cli.down(env)
    file = str(tmp_path / "docker-compose.yml")
    base = ["docker", "compose", "-p", "chaos-drill", "-f", file, "--env-file", str(env)]
    assert runs.calls[0][0] == [*base, "up", "-d", "--remove-orphans", "--build"]
    assert runs.calls[1][0] == [*base, "down", "-v", "--remove-orphans", "--timeout", "10"]
    assert all(kwargs["timeout"] == 42 and kwargs["cwd"] == str(tmp_path) for _, kwargs in runs.calls)
    assert cli.describe_down(env)[-3:] == ["down", "-v", "--remove-orphans"]


def test_failures_are_translated(tmp_path: Path) -> None:
    file = tmp_path / "docker-compose.yml"
    env = tmp_path / "compose.env"
    failing = ComposeCli(file, "p", command=["docker", "compose"],
                         run=Runs(1, "line1\nError: pull access denied for chaos-drill/pod"))
    with pytest.raises(ServiceStartError, match=r"(?s)compose up failed \(exit 1\).*pull access denied"):
        failing.up(env)
    with pytest.raises(StackError, match="docker compose down failed"):
        failing.down(env)
    slow = ComposeCli(file, "p", command=["docker", "compose"], timeout_s=5,
                      run=Runs(raises=subprocess.TimeoutExpired(["docker"], 5)))
    with pytest.raises(ServiceStartError, match="did not finish in 5s") as info:
        slow.up(env)
    assert isinstance(info.value.__cause__, subprocess.TimeoutExpired)
    missing = ComposeCli(file, "p", command=["docker", "compose"],
                         run=Runs(raises=FileNotFoundError("docker")))
    with pytest.raises(BackendUnavailable, match="cannot run docker"):
        missing.up(env)


def test_compose_command_detection() -> None:
    assert find_compose_command(which=lambda n: f"/usr/bin/{n}", run=Runs(0)) == ["docker", "compose"]
    assert find_compose_command(which=lambda n: f"/usr/bin/{n}", run=Runs(1)) == ["/usr/bin/docker-compose"]
    with pytest.raises(BackendUnavailable, match="Compose v2"):
        find_compose_command(which=lambda n: "/usr/bin/docker" if n == "docker" else None, run=Runs(1))


@pytest.mark.skipif(docker_engine_available(timeout=1.0), reason="a Docker engine answers here")
def test_without_an_engine_up_fails_cleanly(tmp_path: Path) -> None:
    """The real docker SDK against no engine: BackendUnavailable, compose never run, nothing left behind."""
    compose = FakeCompose(FakeDockerClient())
    stack = DockerStack(DockerSettings(run_dir=tmp_path), compose=compose)
    with pytest.raises(BackendUnavailable, match="no Docker engine answered"):
        stack.up()
    assert compose.calls == [] and stack.receiver is None
