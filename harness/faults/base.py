"""The fault abstraction: one small base class, a context object, and a fake.

A :class:`Fault` is built from validated :class:`FaultParams` and acts on a
stack through a :class:`FaultContext`. Subclasses implement ``_inject`` and
``_revert``; the public :meth:`Fault.inject` / :meth:`Fault.revert` keep the
lifecycle (:class:`FaultState`) and make revert idempotent and thread-safe.
``undo`` holds the JSON data a later process needs to revert the fault (the
ledger stores it), so a fault rebuilt from the ledger can be healed.

Context-manager use (ledger record before injecting, revert in ``finally``,
revert on SIGINT/SIGTERM and at the TTL)::

    with build_fault("latency", {"latency_ms": 200}).bind(ctx):
        ...  # the fault is active here
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import FaultError, HarnessError
from harness.stack.base import Service, Stack

if TYPE_CHECKING:
    from harness.faults.ledger import FaultLedger
    from harness.faults.proxy_client import ProxyClient
    from harness.faults.session import FaultSession

MAX_FAULT_SECONDS = 6 * 3600.0

PositiveDuration = Annotated[float, Field(gt=0, le=MAX_FAULT_SECONDS, allow_inf_nan=False)]
"""A positive, finite number of seconds (bounded: no fault lives longer than 6 h)."""


class FaultState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REVERTED = "reverted"
    EXPIRED = "expired"
    FAILED = "failed"


class FaultParams(BaseModel):
    """Base of every fault's ``Params``: strict, and every fault carries a TTL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_seconds: PositiveDuration = Field(
        default=300.0, description="the fault is reverted at this age even if nobody asks"
    )


@dataclass
class FaultContext:
    """Everything a fault acts through: the stack, the ledger, the clock, an HTTP client."""

    stack: Stack
    ledger: FaultLedger | None = None
    clock: Clock = SYSTEM_CLOCK
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0, trust_env=False))
    ready_timeout_s: float = 60.0
    install_signal_handlers: bool = True

    def close(self) -> None:
        self.http.close()

    def proxy(self) -> ProxyClient:
        """The stack's fault proxy (FaultError when the stack runs none)."""
        from harness.faults.proxy_client import ProxyClient

        if not self.stack.has(Service.FAULT_PROXY):
            raise FaultError(f"the {self.stack.backend} stack runs no fault proxy; this fault needs one")
        return ProxyClient(self.stack.endpoint(Service.FAULT_PROXY).url, client=self.http)

    def admin_url(self, path: str) -> str:
        """A target admin URL on the direct endpoint (proxy faults never get in the way)."""
        return self.stack.direct_endpoint(Service.TARGET).url + path

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.credentials.admin_token}"}

    def admin(self, method: str, path: str, json: object = None) -> httpx.Response:
        try:
            return self.http.request(method, self.admin_url(path), json=json, headers=self.admin_headers())
        except httpx.HTTPError as exc:
            raise FaultError(f"target admin API {method} {path} failed: {exc}") from exc


class Fault(ABC):
    """Base class of every fault kind."""

    kind: ClassVar[str]
    Params: ClassVar[type[FaultParams]] = FaultParams

    def __init__(self, params: FaultParams, *, fault_id: str | None = None) -> None:
        if not isinstance(params, self.Params):
            wanted, got = self.Params.__name__, type(params).__name__
            raise TypeError(f"{type(self).__name__} needs {wanted}, got {got}")
        self.params = params
        self.id = fault_id or uuid.uuid4().hex[:12]
        self.state = FaultState.PENDING
        self.undo: dict[str, Any] = {}
        self.error: str | None = None
        self._lock = threading.RLock()
        self._ctx: FaultContext | None = None
        self._session: FaultSession | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} id={self.id} state={self.state.value}>"

    @property
    def ttl_seconds(self) -> float:
        return self.params.ttl_seconds

    # -- what subclasses implement -----------------------------------------------
    def prepare(self, ctx: FaultContext) -> None:  # noqa: B027 (optional hook)
        """Capture what revert will need into ``self.undo`` (runs before the ledger record)."""

    @abstractmethod
    def _inject(self, ctx: FaultContext) -> None: ...

    @abstractmethod
    def _revert(self, ctx: FaultContext) -> None:
        """Undo the fault. Must be harmless when the fault is not (or no longer) in effect."""

    def _probe(self, ctx: FaultContext) -> FaultState | None:
        """Optional live check of an active fault (e.g. an expired proxy toxic)."""
        return None

    # -- lifecycle ---------------------------------------------------------------
    def inject(self, ctx: FaultContext) -> None:
        with self._lock:
            if self.state == FaultState.ACTIVE:
                return
            try:
                self._inject(ctx)
            except HarnessError as exc:
                self.state, self.error = FaultState.FAILED, str(exc)
                raise
            except Exception as exc:
                self.state, self.error = FaultState.FAILED, f"{type(exc).__name__}: {exc}"
                raise FaultError(f"injecting {self.kind} failed: {exc}") from exc
            self.state = FaultState.ACTIVE

    def revert(self, ctx: FaultContext) -> None:
        """Idempotent: reverting a reverted (or never-injected, or healed) fault is harmless."""
        with self._lock:
            if self.state == FaultState.REVERTED:
                return
            try:
                self._revert(ctx)
            except HarnessError as exc:
                self.state, self.error = FaultState.FAILED, str(exc)
                raise
            except Exception as exc:
                self.state, self.error = FaultState.FAILED, f"{type(exc).__name__}: {exc}"
                raise FaultError(f"reverting {self.kind} failed: {exc}") from exc
            self.state = FaultState.REVERTED

    def status(self, ctx: FaultContext) -> FaultState:
        with self._lock:
            if self.state == FaultState.ACTIVE:
                probed = self._probe(ctx)
                if probed is not None:
                    return probed
            return self.state

    # -- context-manager use -----------------------------------------------------
    def bind(self, ctx: FaultContext) -> Self:
        self._ctx = ctx
        return self

    def __enter__(self) -> Self:
        from harness.faults.session import FaultSession

        if self._ctx is None:
            raise FaultError("bind(ctx) the fault before using it as a context manager")
        self._session = FaultSession(self, self._ctx)
        self._session.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            session.finish()


class FakeFault(Fault):
    """A fault that only records calls (and can be told to fail) — for unit tests."""

    kind = "fake"

    class Params(FaultParams):
        label: str = "fake"
        fail_inject: bool = False
        fail_revert: bool = False

    params: Params

    def __init__(self, params: FaultParams, *, fault_id: str | None = None) -> None:
        super().__init__(params, fault_id=fault_id)
        self.calls: list[str] = []
        self.in_effect = False

    def prepare(self, ctx: FaultContext) -> None:
        self.calls.append("prepare")
        self.undo = {"label": self.params.label}

    def _inject(self, ctx: FaultContext) -> None:
        self.calls.append("inject")
        if self.params.fail_inject:
            raise FaultError("fake inject failure")
        self.in_effect = True

    def _revert(self, ctx: FaultContext) -> None:
        self.calls.append("revert")
        if self.params.fail_revert:
            raise FaultError("fake revert failure")
        self.in_effect = False
