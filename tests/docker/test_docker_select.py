"""select_backend: --stack auto|local|docker with injected probes."""

from __future__ import annotations

import pytest

from harness.errors import BackendUnavailable, ConfigError, MissingBinaryError
from harness.stack.base import FakeStack, Stack
from harness.stack.select import (
    APT_PACKAGES,
    docker_engine_available,
    missing_local_binaries,
    select_backend,
)


class LocalMarker(FakeStack):
    pass


class DockerMarker(FakeStack):
    pass


def pick(name: str, docker: bool, missing: list[str]) -> type[Stack]:
    probed: list[str] = []

    def docker_probe() -> bool:
        probed.append("docker")
        return docker

    def local_probe() -> list[str]:
        probed.append("local")
        return missing

    return select_backend(name, docker_probe=docker_probe, local_probe=local_probe,
                          local_backend=lambda: LocalMarker, docker_backend=lambda: DockerMarker)


def test_auto_prefers_docker_when_an_engine_answers() -> None:
    assert pick("auto", docker=True, missing=[]) is DockerMarker
    assert pick("auto", docker=True, missing=["prometheus"]) is DockerMarker


def test_auto_falls_back_to_local_when_its_binaries_are_present() -> None:
    assert pick("auto", docker=False, missing=[]) is LocalMarker


def test_auto_fails_naming_how_to_get_either() -> None:
    with pytest.raises(BackendUnavailable) as info:
        pick("auto", docker=False, missing=["prometheus", "redis-server"])
    message = str(info.value)
    assert "prometheus, redis-server" in message
    assert f"apt-get install -y {APT_PACKAGES}" in message
    assert "Docker" in message


def test_explicit_docker_needs_an_engine() -> None:
    assert pick("docker", docker=True, missing=["prometheus"]) is DockerMarker
    with pytest.raises(BackendUnavailable, match="no Docker engine answered"):
        pick("docker", docker=False, missing=[])


def test_explicit_local_needs_its_binaries() -> None:
    assert pick("local", docker=True, missing=[]) is LocalMarker
    with pytest.raises(MissingBinaryError) as info:
        pick("local", docker=True, missing=["initdb", "prometheus-alertmanager"])
    assert info.value.binary == "initdb"
    assert info.value.apt_packages == ["postgresql", "prometheus-alertmanager"]


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="auto, local or docker"):
        pick("kubernetes", docker=True, missing=[])


def test_missing_local_binaries_uses_path_then_postgres_dirs() -> None:
    assert missing_local_binaries(which=lambda name: None) == [
        b for b in ("prometheus", "prometheus-alertmanager", "redis-server", "postgres", "initdb")
        if b not in ("postgres", "initdb")
    ] + [b for b in ("postgres", "initdb") if not _pg_dir_has(b)]
    assert missing_local_binaries(which=lambda name: f"/usr/bin/{name}") == []


def _pg_dir_has(binary: str) -> bool:
    from harness.stack.postgres import find_pg_binary

    return find_pg_binary(binary) is not None


def test_real_probes_on_this_machine() -> None:
    """No engine here (documented): the real ping says so quickly; the Debian binaries are installed."""
    assert docker_engine_available(timeout=1.0) in (True, False)
    from harness.stack.local import LocalStack

    if not docker_engine_available(timeout=1.0) and not missing_local_binaries():
        assert select_backend("auto") is LocalStack
    from harness.stack.docker import DockerStack

    assert pick("docker", docker=True, missing=[]) is DockerMarker
    assert select_backend("docker", docker_probe=lambda: True) is DockerStack
