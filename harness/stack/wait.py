"""Composable readiness checks sharing one poll loop.

Modelled on testcontainers' wait strategies: each :class:`WaitStrategy` answers
"ready yet?" once; :func:`wait_for` polls any number of them with one timeout,
one poll interval and one list of transient errors (errors that mean "not yet",
not "broken").
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from subprocess import Popen

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ServiceStartError, WaitTimeout

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    httpx.TransportError,
)


class WaitStrategy(ABC):
    """One readiness check. ``ready()`` returns True, False, or raises a transient error."""

    description: str = "condition"

    @abstractmethod
    def ready(self) -> bool: ...

    def __and__(self, other: WaitStrategy) -> AllOf:
        return AllOf([self, other])


class AllOf(WaitStrategy):
    """Ready when every strategy is ready (checked in order, short-circuiting)."""

    def __init__(self, strategies: Sequence[WaitStrategy]) -> None:
        self.strategies: list[WaitStrategy] = []
        for strategy in strategies:
            self.strategies.extend(strategy.strategies if isinstance(strategy, AllOf) else [strategy])
        self.description = " and ".join(s.description for s in self.strategies)

    def ready(self) -> bool:
        return all(s.ready() for s in self.strategies)


class TcpPortOpen(WaitStrategy):
    def __init__(self, host: str, port: int, timeout: float = 0.5) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.description = f"tcp {host}:{port} accepts connections"

    def ready(self) -> bool:
        with socket.create_connection((self.host, self.port), timeout=self.timeout):
            return True


class HttpOk(WaitStrategy):
    """Ready when GET ``url`` answers one of ``statuses``."""

    def __init__(
        self,
        url: str,
        statuses: Sequence[int] = (200,),
        headers: dict[str, str] | None = None,
        timeout: float = 1.0,
    ) -> None:
        self.url, self.statuses, self.headers, self.timeout = url, tuple(statuses), headers, timeout
        self.description = f"GET {url} answers {'/'.join(map(str, self.statuses))}"

    def ready(self) -> bool:
        response = httpx.get(self.url, headers=self.headers, timeout=self.timeout, trust_env=False)
        return response.status_code in self.statuses


class ProcessAlive(WaitStrategy):
    """Never 'ready' on its own; fails the wait at once if the process exited."""

    def __init__(self, process: Popen[bytes], name: str, log: Path | None = None) -> None:
        self.process, self.name, self.log = process, name, log
        self.description = f"{name} process alive"

    def ready(self) -> bool:
        code = self.process.poll()
        if code is not None:
            tail = _tail(self.log) if self.log else ""
            raise ServiceStartError(f"{self.name} exited with code {code} before it was ready{tail}")
        return True


class Predicate(WaitStrategy):
    """Wraps any callable returning bool."""

    def __init__(self, check: Callable[[], bool], description: str) -> None:
        self.check, self.description = check, description

    def ready(self) -> bool:
        return self.check()


def wait_for(
    strategy: WaitStrategy | Sequence[WaitStrategy],
    *,
    timeout: float,
    poll_interval: float = 0.05,
    clock: Clock = SYSTEM_CLOCK,
    transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
) -> float:
    """Poll until ready; return the seconds it took. Raise :class:`WaitTimeout`."""
    combined = strategy if isinstance(strategy, WaitStrategy) else AllOf(strategy)
    start = clock.monotonic()
    last_error: BaseException | None = None
    while True:
        try:
            if combined.ready():
                return clock.monotonic() - start
            last_error = None
        except ServiceStartError:
            raise
        except transient as exc:
            last_error = exc
        if clock.monotonic() - start >= timeout:
            raise WaitTimeout(
                f"timed out after {timeout:.1f}s waiting for {combined.description}", last_error
            )
        clock.sleep(poll_interval)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\n  last log lines ({path}):\n    " + "\n    ".join(text) if text else ""
