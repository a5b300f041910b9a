"""``--stack auto|local|docker``: choose the stack backend for this machine.

``auto`` picks Docker when an engine answers a ping (short timeout), else the
local stack when its Debian binaries are installed, else fails with
:class:`~harness.errors.BackendUnavailable` naming how to get either. The
probes are injectable so the choice is tested without an engine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Literal

from harness.errors import BackendUnavailable, ConfigError, MissingBinaryError
from harness.stack.base import Stack

BackendName = Literal["auto", "local", "docker"]

# binary -> Debian packages providing it (postgres/initdb also live in /usr/lib/postgresql/*/bin)
LOCAL_BINARIES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "prometheus-alertmanager": ("prometheus-alertmanager",),
    "redis-server": ("redis-server",),
    "postgres": ("postgresql",),
    "initdb": ("postgresql",),
}
APT_PACKAGES = "prometheus prometheus-alertmanager redis-server postgresql"
HOW_TO_GET_ONE = (
    "install the local stack's servers with `sudo apt-get install -y "
    f"{APT_PACKAGES}`, or install Docker (Docker Engine or Docker Desktop with Compose v2) "
    "and make sure `docker info` works for this user"
)


def docker_engine_available(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers ``ping`` within ``timeout`` seconds."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
    except DockerException:
        return False
    try:
        return bool(client.ping())
    except (DockerException, OSError):
        return False
    finally:
        client.close()


def missing_local_binaries(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The local stack's binaries that are not installed (PATH, then /usr/lib/postgresql)."""
    from harness.stack.postgres import find_pg_binary

    missing = []
    for binary in LOCAL_BINARIES:
        found = which(binary)
        if found is None and binary in ("postgres", "initdb"):
            found = find_pg_binary(binary)
        if found is None:
            missing.append(binary)
    return missing


def _local_backend() -> type[Stack]:
    from harness.stack.local import LocalStack

    return LocalStack


def _docker_backend() -> type[Stack]:
    from harness.stack.docker import DockerStack

    return DockerStack


def select_backend(
    name: str,
    *,
    docker_probe: Callable[[], bool] = docker_engine_available,
    local_probe: Callable[[], list[str]] = missing_local_binaries,
    local_backend: Callable[[], type[Stack]] = _local_backend,
    docker_backend: Callable[[], type[Stack]] = _docker_backend,
) -> type[Stack]:
    """The Stack class for ``name`` (``auto``, ``local`` or ``docker``) on this machine."""
    if name == "docker":
        if not docker_probe():
            raise BackendUnavailable(
                "--stack docker: no Docker engine answered (is the daemon running, and may this user "
                "use its socket? check `docker info`); or use --stack local after `sudo apt-get install -y "
                f"{APT_PACKAGES}`"
            )
        return docker_backend()
    if name == "local":
        missing = local_probe()
        if missing:
            packages = sorted({p for b in missing for p in LOCAL_BINARIES.get(b, (b,))})
            raise MissingBinaryError(missing[0], packages)
        return local_backend()
    if name == "auto":
        if docker_probe():
            return docker_backend()
        missing = local_probe()
        if not missing:
            return local_backend()
        raise BackendUnavailable(
            f"no stack backend can run here: no Docker engine answered, and the local stack lacks "
            f"{', '.join(missing)}. To get one: {HOW_TO_GET_ONE}"
        )
    raise ConfigError(f"unknown stack backend {name!r}; choose auto, local or docker")
