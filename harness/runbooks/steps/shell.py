"""``shell`` steps: an argv list run without a shell, in its own process group.

The child's environment is only PATH, the allow-listed variables and the
step's own ``env``; stdin is closed. On timeout the whole process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from harness.errors import RunbookError
from harness.runbooks.models import ShellStep
from harness.runbooks.steps.base import RunState, StepResult


def execute_shell(step: ShellStep, state: RunState) -> StepResult:
    source = state.ctx.environ
    env = {"PATH": source.get("PATH", os.defpath)}
    env.update({name: source[name] for name in step.env_allow if name in source})
    env.update(step.env)
    try:
        process = subprocess.Popen(
            step.argv,
            env=env,
            cwd=step.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise RunbookError(f"cannot run {step.argv[0]!r}: {exc}") from exc
    try:
        out, _ = process.communicate(timeout=step.timeout_s)
    except subprocess.TimeoutExpired as exc:
        _kill_group(process)
        out, _ = process.communicate()
        tail = out.decode("utf-8", "replace")[-500:]
        raise RunbookError(f"{step.argv[0]} timed out after {step.timeout_s:.0f}s: {tail}") from exc
    text = out.decode("utf-8", "replace")
    if process.returncode not in step.expect_exit:
        raise RunbookError(f"{step.argv[0]} exited with {process.returncode}: {text[-500:]}")
    return StepResult(f"exit {process.returncode}: {text[-1000:]}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
