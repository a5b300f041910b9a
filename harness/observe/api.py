"""The small HTTP base the Prometheus and Alertmanager clients share.

Transport errors, non-2xx answers and undecodable bodies become
:class:`harness.errors.StackError` (``raise ... from``), so callers never see
httpx exceptions.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import StackError


class JsonApiClient:
    """A JSON-over-HTTP client with one base URL and one timeout. Usable as a context manager."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        timeout: float = 2.0,
        *,
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StackError(f"{self.service} at {self.base_url}: {method} {path} failed: {exc!r}") from exc
        if response.is_error:
            raise StackError(
                f"{self.service} at {self.base_url}: {method} {path} answered "
                f"{response.status_code}: {response.text[:300].strip()}"
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise StackError(f"{self.service} at {self.base_url}: {path} answered non-JSON") from exc

    def _ready(self, path: str = "/-/ready") -> bool:
        try:
            return self._http.get(path).status_code == 200
        except httpx.HTTPError:
            return False
