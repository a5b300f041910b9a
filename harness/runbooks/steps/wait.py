"""``wait_for`` steps: a PromQL condition or an HTTP probe that must hold.

Both go through :func:`harness.stack.wait.wait_for` (the harness's one poll loop)
with the step's timeout and poll interval; ``hold_s`` requires the condition to
stay true that long without a break.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from harness.errors import HarnessError, RunbookError, ServiceStartError, WaitTimeout
from harness.runbooks.models import WaitForStep
from harness.runbooks.steps.base import RunState, StepResult
from harness.stack.wait import TRANSIENT_ERRORS, Predicate, wait_for


class _NotYet(HarnessError):
    """A check error that means 'not yet' (query failed, target unreachable)."""


def execute_wait_for(step: WaitForStep, state: RunState) -> StepResult:
    ctx = state.ctx
    last: list[str] = ["no observation"]
    check, description = _condition(step, state, last)
    held_since: list[float | None] = [None]

    def holds_long_enough() -> bool:
        if not check():
            held_since[0] = None
            return False
        now = ctx.clock.monotonic()
        since = held_since[0]
        if since is None:
            held_since[0] = since = now
        return now - since >= step.hold_s

    try:
        took = wait_for(
            Predicate(holds_long_enough, description),
            timeout=step.timeout_s,
            poll_interval=step.poll_interval_s,
            clock=ctx.clock,
            transient=(*TRANSIENT_ERRORS, _NotYet),
        )
    except WaitTimeout as exc:
        raise RunbookError(f"{exc}; last observation: {last[0]}") from exc
    return StepResult(f"{description}: held after {took:.1f}s (last observation: {last[0]})")


def _condition(step: WaitForStep, state: RunState, last: list[str]) -> tuple[Callable[[], bool], str]:
    if step.promql is not None:
        cond = step.promql
        source = state.ctx.prometheus_source()
        description = f"{cond.query} {cond.op.value} {cond.value:g}"

        def prom_check() -> bool:
            try:
                value = source.query_scalar(cond.query)
            except ServiceStartError:
                raise
            except HarnessError as exc:
                last[0] = f"query error: {exc}"
                raise _NotYet(str(exc)) from exc
            last[0] = "no data" if value is None else f"{value:g}"
            return value is not None and cond.op.holds(value, cond.value)

        return prom_check, description
    assert step.http is not None
    probe = step.http
    url, headers = state.ctx.resolve_url(probe.url)
    description = f"GET {url} answers {'/'.join(map(str, probe.expect_status))}"

    def http_check() -> bool:
        try:
            response = state.ctx.http.get(url, headers=headers, timeout=min(step.timeout_s, 5.0))
        except httpx.HTTPError as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            raise _NotYet(str(exc)) from exc
        last[0] = f"{response.status_code}: {response.text[:200]}"
        return response.status_code in probe.expect_status

    return http_check, description
