"""Real processes for the demo-target tests: Postgres and Redis on free loopback ports, and
the target running under the real supervisor. Every context manager stops what it started."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

from harness.stack.supervisor import SupervisorStatus, read_status, supervisor_command
from harness.stack.wait import HttpOk, Predicate, ProcessAlive, TcpPortOpen, wait_for

ROOT = Path(__file__).resolve().parents[2]
TARGET_DIR = ROOT / "fixtures" / "target"
if str(TARGET_DIR) not in sys.path:
    sys.path.insert(0, str(TARGET_DIR))

IS_ROOT = os.geteuid() == 0
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://drill:drill@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self) -> dict[str, Any]:
        return {"user": "postgres", "group": "postgres"} if IS_ROOT else {}

    def init(self) -> None:
        if IS_ROOT:
            shutil.chown(self.data_dir, "postgres", "postgres")
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")  # noqa: SIM115
        subprocess.run(
            ["initdb", "--no-sync", "-A", "trust", "-U", "drill", "-D", str(self.data_dir)],
            check=True,
            stdout=self.log,
            stderr=self.log,
            timeout=120,
            **self._as_postgres(),
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "postgres",
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=self.log,
            stderr=self.log,
            **self._as_postgres(),
        )

        def answers() -> bool:
            with psycopg.connect(self.url, connect_timeout=2):
                return True

        wait_for(
            [
                ProcessAlive(self.process, "postgres"),
                TcpPortOpen("127.0.0.1", self.port),
                Predicate(answers, "postgres answers"),
            ],
            timeout=START_TIMEOUT_S,
            poll_interval=0.1,
            transient=(OSError, psycopg.Error),
        )

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGINT)  # fast shutdown


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            [ProcessAlive(self.process, "redis"), TcpPortOpen("127.0.0.1", self.port)],
            timeout=START_TIMEOUT_S,
            poll_interval=0.05,
        )

    def kill(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGKILL)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    base = Path(tempfile.mkdtemp(prefix="drill-target-pg-"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir()
    server = PostgresServer(data)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        if server.log is not None:
            server.log.close()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.kill()


@dataclass
class Target:
    """The demo target running under the supervisor."""

    port: int
    token: str
    run_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def status_file(self) -> Path:
        return self.run_dir / "supervisor.json"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "demo-state.json"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def status(self) -> SupervisorStatus:
        return read_status(self.status_file)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def wait_live(self, timeout: float = START_TIMEOUT_S) -> None:
        wait_for(
            [ProcessAlive(self.process, "supervisor"), HttpOk(self.url + "/health/live")],
            timeout=timeout,
            poll_interval=0.1,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        wait_for(
            [ProcessAlive(self.process, "supervisor"), HttpOk(self.url + "/health/ready")],
            timeout=timeout,
            poll_interval=0.1,
        )

    def wait_restarts(self, restarts: int, timeout: float = START_TIMEOUT_S) -> SupervisorStatus:
        def restarted() -> bool:
            status = self.status()
            return status.restarts >= restarts and status.child_pid is not None

        wait_for(
            Predicate(restarted, f"supervisor reports {restarts} restarts"),
            timeout=timeout,
            poll_interval=0.1,
            transient=(OSError, ValueError),
        )
        self.wait_live(timeout)
        return self.status()

    def log_tail(self) -> str:
        path = self.run_dir / "target.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


TargetFactory = Callable[..., Target]


@contextlib.contextmanager
def running_target(
    pg_url: str, redis_url: str, run_dir: Path, memory_limit_mb: int | None = None, **env: str
) -> Iterator[Target]:
    run_dir.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    child_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TARGET_DIR), str(ROOT)]),
        "DEMO_HOST": "127.0.0.1",
        "DEMO_PORT": str(port),
        "DEMO_DATABASE_URL": pg_url,
        "DEMO_REDIS_URL": redis_url,
        "DEMO_ADMIN_TOKEN": token,
        "DEMO_STATE_FILE": str(run_dir / "demo-state.json"),
        **env,
    }
    cmd = supervisor_command(
        "target",
        run_dir / "supervisor.json",
        memory_limit_mb,
        [sys.executable, "-m", "demo_target"],
        backoff_s=0.2,
    )
    with open(run_dir / "target.log", "ab") as log:
        process = subprocess.Popen(cmd, env=child_env, stdout=log, stderr=log, cwd=run_dir)
    target = Target(port, token, run_dir, process)
    try:
        target.wait_live()
        yield target
    finally:
        _stop(process, signal.SIGTERM, timeout=20.0)
