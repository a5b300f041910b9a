"""PostgreSQL for the local stack: initdb into a private directory, run as an unprivileged user."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from harness.errors import ServiceStartError, StackError
from harness.stack.wait import WaitStrategy

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def find_pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def server_os_user() -> str | None:
    """Postgres refuses to run as root: as root, run it as the 'postgres' user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StackError(
            "running as root, Postgres needs an unprivileged 'postgres' user: "
            "sudo apt-get install -y postgresql (creates it)"
        ) from None
    return "postgres"


@dataclass(frozen=True)
class ClusterLayout:
    data_dir: Path
    socket_dir: Path
    superuser: str
    password: str
    os_user: str | None

    @property
    def home(self) -> Path:
        return self.data_dir.parent


def private_home(run_dir: Path, os_user: str | None) -> Path:
    """Where the cluster lives: under run_dir, or /tmp when run_dir is not reachable by os_user."""
    if os_user is None:
        return run_dir / "postgres"
    home = Path(tempfile.mkdtemp(prefix="drill-pg-"))
    return home


def init_cluster(layout: ClusterLayout, initdb: str) -> None:
    home = layout.home
    home.mkdir(parents=True, exist_ok=True)
    layout.socket_dir.mkdir(parents=True, exist_ok=True)
    pwfile = home / "pwfile"
    pwfile.write_text(layout.password + "\n")
    if layout.os_user is not None:
        ids = pwd.getpwnam(layout.os_user)
        for path in (home, layout.socket_dir, pwfile):
            os.chown(path, ids.pw_uid, ids.pw_gid)
        home.chmod(0o700)
    argv = [
        initdb,
        "--no-sync",
        "-D",
        str(layout.data_dir),
        "-U",
        layout.superuser,
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C",
    ]
    if layout.os_user is not None:
        argv = ["runuser", "-u", layout.os_user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    with contextlib.suppress(OSError):
        pwfile.unlink()
    if result.returncode != 0:
        raise ServiceStartError(f"initdb failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def server_argv(binary: str, layout: ClusterLayout, host: str, port: int) -> list[str]:
    return [
        binary,
        "-D",
        str(layout.data_dir),
        "-p",
        str(port),
        "-k",
        str(layout.socket_dir),
        "-c",
        f"listen_addresses={host}",
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=60",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "log_min_messages=warning",
    ]


def remove_home(layout: ClusterLayout) -> None:
    shutil.rmtree(layout.home, ignore_errors=True)


class PostgresReady(WaitStrategy):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.description = "postgres accepts connections"

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.dsn, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            raise ConnectionError(str(exc)) from exc
        return True


def ensure_database(dsn: str, dbname: str) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{dbname}"')
    except psycopg.Error as exc:
        raise ServiceStartError(f"cannot create database {dbname!r}: {exc}") from exc
