"""Children die with the harness: Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``).

Every process the harness starts (stack services, the target's supervisor and its child, Locust)
sets it in its ``preexec_fn``, so a harness killed with SIGKILL leaves no orphan behind. The signal
follows the *thread* that forked the child: fork from a thread that lives as long as the harness
(see ``harness.stack.procs.spawn``).
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
# loaded at import time, so that calling it in a preexec_fn (after fork) does not load a library
_LIBC: ctypes.CDLL | None
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # no libc to ask: PID records are the fallback
    _LIBC = None


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent (thread) dies."""
    if _LIBC is None:
        return
    if _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def die_with_parent(sig: int = signal.SIGTERM, parent_pid: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: ``sig`` when the parent dies; exit at once if it died before we asked."""
    expected = os.getpid() if parent_pid is None else parent_pid

    def preexec() -> None:
        set_parent_death_signal(sig)
        if os.getppid() != expected:
            os._exit(1)

    return preexec
