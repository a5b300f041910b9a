"""Faults acting on processes through ``Stack.control``: Redis loss, pause, CPU starvation."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Literal

from pydantic import Field

from harness.errors import FaultError, ServiceControlError
from harness.faults.base import Fault, FaultContext, FaultParams
from harness.faults.probes import ensure_running
from harness.stack.base import Service, ServiceAction, ServiceStatus

log = logging.getLogger(__name__)


class RedisLossFault(Fault):
    """Kill Redis (its data is gone, as in reality) or freeze it (SIGSTOP: a hung dependency)."""

    kind = "redis_loss"

    class Params(FaultParams):
        mode: Literal["kill", "freeze"] = "kill"

    params: Params

    def _inject(self, ctx: FaultContext) -> None:
        action = ServiceAction.KILL if self.params.mode == "kill" else ServiceAction.PAUSE
        ctx.stack.control(Service.REDIS, action)

    def _revert(self, ctx: FaultContext) -> None:
        self.undo["revert"] = ensure_running(ctx, Service.REDIS)


class ProcessPauseFault(Fault):
    """SIGSTOP a service (the target by default) until reverted (SIGCONT)."""

    kind = "process_pause"

    class Params(FaultParams):
        service: Literal["target", "redis", "postgres"] = "target"

    params: Params

    def _inject(self, ctx: FaultContext) -> None:
        ctx.stack.control(Service(self.params.service), ServiceAction.PAUSE)

    def _revert(self, ctx: FaultContext) -> None:
        service = Service(self.params.service)
        if ctx.stack.status(service) == ServiceStatus.PAUSED:
            ctx.stack.control(service, ServiceAction.RESUME)


class CpuStarvationFault(Fault):
    """Starve the target of CPU: a thread pauses it for ``duty`` of every ``period_ms``.

    The thread stops by itself at the TTL; revert stops it and always leaves the
    target resumed (also after a crash, when only the ledger remembers the fault).
    """

    kind = "cpu_starvation"

    class Params(FaultParams):
        service: Literal["target", "redis", "postgres"] = "target"
        duty: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.8
        period_ms: Annotated[float, Field(ge=20, le=10_000, allow_inf_nan=False)] = 200.0

    params: Params

    def __init__(self, params: FaultParams, *, fault_id: str | None = None) -> None:
        super().__init__(params, fault_id=fault_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0

    def _inject(self, ctx: FaultContext) -> None:
        service = Service(self.params.service)
        if ctx.stack.status(service) != ServiceStatus.RUNNING:
            raise FaultError(f"{service.value} is not running; nothing to starve")
        self._stop.clear()
        self._thread = threading.Thread(target=self._cycle, args=(ctx, service), daemon=True,
                                        name=f"cpu-starvation-{self.id}")
        self._thread.start()

    def _cycle(self, ctx: FaultContext, service: Service) -> None:
        period = self.params.period_ms / 1000.0
        paused_for, running_for = period * self.params.duty, period * (1 - self.params.duty)
        deadline = ctx.clock.monotonic() + self.params.ttl_seconds
        try:
            while not self._stop.is_set() and ctx.clock.monotonic() < deadline:
                ctx.stack.control(service, ServiceAction.PAUSE)
                try:
                    self._stop.wait(paused_for)
                finally:
                    ctx.stack.control(service, ServiceAction.RESUME)
                self.cycles += 1
                self._stop.wait(running_for)
        except ServiceControlError as exc:  # e.g. the process restarted under us
            log.warning("cpu starvation of %s stopped: %s", service.value, exc)

    def _revert(self, ctx: FaultContext) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise FaultError("the cpu starvation thread did not stop")
            self._thread = None
        service = Service(self.params.service)
        if ctx.stack.status(service) == ServiceStatus.PAUSED:
            ctx.stack.control(service, ServiceAction.RESUME)
