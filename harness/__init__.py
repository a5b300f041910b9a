"""chaos-drill-harness: rehearse incidents for real."""

from harness.clock import Clock, FakeClock, SystemClock
from harness.errors import HarnessError
from harness.stack.base import Endpoint, FakeStack, Service, ServiceAction, ServiceStatus, Stack, StackState

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Endpoint",
    "FakeClock",
    "FakeStack",
    "HarnessError",
    "Service",
    "ServiceAction",
    "ServiceStatus",
    "Stack",
    "StackState",
    "SystemClock",
    "__version__",
]
