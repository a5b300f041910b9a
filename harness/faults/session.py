"""One guarded use of a fault: journal, inject, revert in finally, on signals and at the TTL."""

from __future__ import annotations

import logging
import threading

from harness.faults.base import Fault, FaultContext, FaultState
from harness.faults.signals import SignalGuard

log = logging.getLogger(__name__)


class FaultSession:
    """Created by ``Fault.__enter__``; ``start()`` injects, ``finish()`` reverts (both journaled)."""

    def __init__(self, fault: Fault, ctx: FaultContext) -> None:
        self.fault = fault
        self.ctx = ctx
        self._guard: SignalGuard | None = None
        self._timer: threading.Timer | None = None
        self._finished = threading.Event()
        self._finish_lock = threading.Lock()

    def start(self) -> None:
        fault, ctx = self.fault, self.ctx
        fault.prepare(ctx)
        if ctx.ledger is not None:
            ctx.ledger.record_pending(fault, run_dir=ctx.stack.run_dir, backend=ctx.stack.backend)
        if ctx.install_signal_handlers:
            self._guard = SignalGuard(self._on_signal)
            self._guard.install()
        self._timer = threading.Timer(fault.ttl_seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        try:
            fault.inject(ctx)
        except BaseException:
            self._end(note=f"inject failed: {fault.error}", raise_errors=False)
            raise
        if ctx.ledger is not None:
            ctx.ledger.record(fault.id, FaultState.ACTIVE, undo=dict(fault.undo) or None)

    def finish(self) -> None:
        try:
            self._end(note=None)
        finally:
            if self._guard is not None:
                self._guard.restore()

    def _on_signal(self) -> bool:
        """SIGINT/SIGTERM: revert now, unless a revert is already running (in this thread, say):
        then it must not be interrupted, and the signal is delivered again once it has finished."""
        if not self._finish_lock.acquire(blocking=False):
            return False
        self._finish_lock.release()
        self._end(note="reverted on signal")
        return True

    def _expire(self) -> None:
        try:
            self._end(note="reverted at its TTL", expired=True)
        except Exception:
            log.exception("reverting %s at its TTL failed", self.fault)

    def _end(self, *, note: str | None, expired: bool = False, raise_errors: bool = True) -> None:
        try:
            self._revert_once(note=note, expired=expired, raise_errors=raise_errors)
        finally:
            if self._guard is not None:  # a signal held back while we reverted: deliver it now
                self._guard.redeliver()

    def _revert_once(self, *, note: str | None, expired: bool, raise_errors: bool) -> None:
        with self._finish_lock:
            if self._finished.is_set():
                return
            self._finished.set()
            if self._timer is not None and threading.current_thread() is not self._timer:
                self._timer.cancel()
            fault, ledger = self.fault, self.ctx.ledger
            try:
                fault.revert(self.ctx)
            except Exception as exc:
                if ledger is not None:
                    ledger.record(fault.id, FaultState.FAILED, note=f"revert failed: {exc}")
                if raise_errors:
                    raise
                log.warning("revert of %s failed: %s", fault, exc)
            else:
                if expired:
                    fault.state = FaultState.EXPIRED
                if ledger is not None:
                    state = FaultState.EXPIRED if expired else FaultState.REVERTED
                    ledger.record(fault.id, state, note=note)
