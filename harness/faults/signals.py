"""Revert on SIGINT/SIGTERM: handlers that run a callback, then chain to the previous handlers."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class SignalGuard:
    """Installs handlers that call ``callback`` once, then do what the previous handler did.

    When ``callback`` returns False (a revert is already running and must not be interrupted), the
    signal is held back: :meth:`redeliver` sends it again once that revert has finished.
    Only the main thread can install signal handlers; elsewhere the guard is a no-op.
    """

    def __init__(
        self, callback: Callable[[], bool | None], signals: tuple[int, ...] = DEFAULT_SIGNALS
    ) -> None:
        self.callback = callback
        self.signals = signals
        self.previous: dict[int, _Handler] = {}
        self.installed = False
        self.fired: list[int] = []
        self.deferred: list[int] = []

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.signals:
            self.previous[signum] = signal.signal(signum, self._handle)
        self.installed = True

    def restore(self) -> None:
        if not self.installed:
            return
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self.installed = False

    def redeliver(self) -> None:
        """Send a held-back signal again, once whatever held it back has finished."""
        if self.deferred:
            signum, self.deferred = self.deferred[0], []
            os.kill(os.getpid(), signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferred:
            return  # already holding one back until the running revert ends
        if not self.fired:
            try:
                if self.callback() is False:
                    self.deferred.append(signum)
                    return
            except Exception:  # the previous handler must still run
                log.exception("revert on signal %s failed", signal.Signals(signum).name)
        self.fired.append(signum)
        previous = self.previous.get(signum)
        self.restore()
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signum)  # default action (terminate) with our handler gone


@contextmanager
def revert_on_signals(
    callback: Callable[[], None], signals: tuple[int, ...] = DEFAULT_SIGNALS
) -> Iterator[SignalGuard]:
    """``with revert_on_signals(fault_revert): ...`` — restores the previous handlers afterwards."""
    guard = SignalGuard(callback, signals)
    guard.install()
    try:
        yield guard
    finally:
        guard.restore()
