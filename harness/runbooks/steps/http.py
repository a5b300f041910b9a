"""``http`` steps, and the request helper the target-admin and notify steps share."""

from __future__ import annotations

import json
from typing import Any

import httpx

from harness.errors import RunbookError
from harness.runbooks.context import RunbookContext
from harness.runbooks.models import HttpStep
from harness.runbooks.steps.base import RunState, StepResult


def request(
    ctx: RunbookContext,
    method: str,
    url: str,
    *,
    timeout_s: float,
    expect_status: list[int] | None = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    content: str | None = None,
) -> httpx.Response:
    """One request to a plain or ``<service>:/path`` URL; raise RunbookError on an unexpected status."""
    absolute, extra = ctx.resolve_url(url)
    merged = {**extra, **(headers or {})}
    try:
        response = ctx.http.request(
            method,
            absolute,
            headers=merged,
            json=json_body,
            content=content,
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise RunbookError(f"{method} {absolute}: {type(exc).__name__}: {exc}") from exc
    expected = expect_status if expect_status is not None else [200, 201, 202, 204]
    if response.status_code not in expected:
        raise RunbookError(
            f"{method} {absolute} answered {response.status_code} (expected {expected}): "
            f"{response.text[:300]}"
        )
    return response


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError as exc:
        raise RunbookError(f"{response.request.url} did not answer JSON: {response.text[:200]!r}") from exc


def execute_http(step: HttpStep, state: RunState) -> StepResult:
    response = request(
        state.ctx,
        step.method,
        step.url,
        timeout_s=step.timeout_s,
        expect_status=step.expect_status,
        headers=step.headers,
        json_body=step.json_body,
        content=step.body,
    )
    return StepResult(f"{step.method} {response.request.url} → {response.status_code}: {response.text[:500]}")
