"""The one poll loop and its composable readiness checks, on a fake clock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.clock import FakeClock
from harness.errors import ServiceStartError, WaitTimeout
from harness.stack.wait import AllOf, Predicate, ProcessAlive, WaitStrategy, wait_for


class Countdown(WaitStrategy):
    """Ready after ``n`` polls; raises a transient error on the polls before."""

    def __init__(self, n: int, error: BaseException | None = None) -> None:
        self.n, self.error, self.polls = n, error, 0
        self.description = f"ready after {n} polls"

    def ready(self) -> bool:
        self.polls += 1
        if self.polls < self.n:
            if self.error is not None:
                raise self.error
            return False
        return True


def test_returns_the_seconds_it_took() -> None:
    clock = FakeClock()
    took = wait_for(Countdown(5), timeout=10, poll_interval=0.5, clock=clock)
    assert took == pytest.approx(2.0)
    assert clock.sleeps == [0.5] * 4


def test_transient_errors_mean_not_yet() -> None:
    strategy = Countdown(3, ConnectionRefusedError("not listening yet"))
    wait_for(strategy, timeout=10, poll_interval=0.1, clock=FakeClock())
    assert strategy.polls == 3


def test_timeout_names_the_condition_and_the_last_error() -> None:
    with pytest.raises(WaitTimeout) as info:
        wait_for(Countdown(100, TimeoutError("slow")), timeout=1.0, poll_interval=0.25, clock=FakeClock())
    assert "ready after 100 polls" in str(info.value)
    assert isinstance(info.value.last_error, TimeoutError)


def test_non_transient_errors_propagate_at_once() -> None:
    def boom() -> bool:
        raise ValueError("a bug, not a wait")

    with pytest.raises(ValueError):
        wait_for(Predicate(boom, "boom"), timeout=10, clock=FakeClock())


def test_all_of_checks_every_strategy_and_flattens() -> None:
    a, b, c = Countdown(1), Countdown(2), Countdown(3)
    combined = (a & b) & c
    assert isinstance(combined, AllOf) and len(combined.strategies) == 3
    wait_for(combined, timeout=10, poll_interval=0.1, clock=FakeClock())
    assert c.polls == 3


def test_a_process_that_exits_fails_the_wait_at_once(tmp_path: object) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    proc.wait(timeout=10)
    with pytest.raises(ServiceStartError, match="exited with code 3"):
        wait_for(ProcessAlive(proc, "demo") & Countdown(100), timeout=10, clock=FakeClock())
