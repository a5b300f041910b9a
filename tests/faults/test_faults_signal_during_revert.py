"""Ctrl-C that arrives while a revert is already running must not deadlock or cut the revert short."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from harness.faults.base import FakeFault, FaultContext, FaultState
from harness.stack.base import FakeStack


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread")
def test_sigint_during_revert_is_delivered_after_the_revert() -> None:
    fault = FakeFault(FakeFault.Params())
    original = fault._revert
    seen: list[str] = []

    def revert_interrupted_by_ctrl_c(ctx: FaultContext) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives while this revert holds the session lock
        seen.append("still reverting")
        original(ctx)
        seen.append("reverted")

    fault._revert = revert_interrupted_by_ctrl_c  # type: ignore[method-assign]
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), fault.bind(FaultContext(stack=FakeStack())):
        pass
    assert seen == ["still reverting", "reverted"]
    assert fault.state == FaultState.REVERTED
    assert signal.getsignal(signal.SIGINT) is previous  # handlers restored
