"""The harness's exception tree.

Every error the harness raises on purpose derives from :class:`HarnessError`.
Third-party errors are translated at the boundary with ``raise ... from exc``
so callers never have to know which library sat underneath.

    HarnessError
    ├── ConfigError                  bad input; carries one line per problem
    │   └── ValidationFailed         a scenario/runbook file failed validation
    ├── StackError                   the stack could not do what was asked
    │   ├── MissingBinaryError       a server binary is not installed (names apt packages)
    │   ├── ServiceStartError        a service did not start or become ready
    │   ├── ServiceControlError      stop/kill/pause/resume/start/restart failed
    │   └── BackendUnavailable       no backend can run here (no Docker, no binaries)
    ├── WaitTimeout                  a readiness or condition poll ran out of time
    ├── FaultError                   inject/revert failed
    │   └── FaultLedgerError         the fault ledger is unreadable or cannot be healed
    ├── RunbookError                 a runbook step failed or was refused
    │   └── StepFailed               one step failed (carries the step id)
    ├── AuditLedgerError             the hash-chained audit ledger failed verification
    ├── SafetyError                  a drill was refused (allow-list, kill switch)
    │   └── DrillHalted              the global kill switch was set during a drill
    └── GateError                    the CI gate could not compare runs (no data)
"""

from __future__ import annotations

from collections.abc import Sequence


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    """Bad input. ``problems`` holds one human-readable line per problem."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems: list[str] = list(problems) or [message]
        super().__init__(message if not problems else "\n".join(self.problems))


class ValidationFailed(ConfigError):
    """A scenario or runbook file failed validation (all problems listed)."""


class StackError(HarnessError):
    """The stack could not do what was asked."""


class MissingBinaryError(StackError):
    """A server binary the local stack needs is not installed."""

    def __init__(self, binary: str, apt_packages: Sequence[str]) -> None:
        self.binary = binary
        self.apt_packages = list(apt_packages)
        super().__init__(
            f"'{binary}' was not found on PATH; install it with: "
            f"sudo apt-get install -y {' '.join(self.apt_packages)}"
        )


class ServiceStartError(StackError):
    """A service did not start, or did not become ready in time."""


class ServiceControlError(StackError):
    """A process-control action on a service failed."""


class BackendUnavailable(StackError):
    """No stack backend can run on this machine."""


class WaitTimeout(HarnessError):
    """A poll loop ran out of time. ``last_error`` is the last transient error seen."""

    def __init__(self, message: str, last_error: BaseException | None = None) -> None:
        self.last_error = last_error
        detail = f" (last error: {last_error!r})" if last_error is not None else ""
        super().__init__(message + detail)


class FaultError(HarnessError):
    """A fault could not be injected or reverted."""


class FaultLedgerError(FaultError):
    """The fault ledger is unreadable, or holds faults that cannot be healed."""


class RunbookError(HarnessError):
    """A runbook could not run, or was refused."""


class StepFailed(RunbookError):
    """One runbook step failed."""

    def __init__(self, step_id: str, message: str) -> None:
        self.step_id = step_id
        super().__init__(f"step {step_id!r} failed: {message}")


class AuditLedgerError(HarnessError):
    """The hash-chained audit ledger failed verification."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message if line is None else f"line {line}: {message}")


class SafetyError(HarnessError):
    """A drill was refused for safety reasons (allow-list, kill switch)."""


class DrillHalted(SafetyError):
    """The global kill switch was set while a drill was running."""


class GateError(HarnessError):
    """The CI gate could not compare runs."""
