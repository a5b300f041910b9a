"""Client of the fault proxy's admin API."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from harness.errors import FaultError


class ProxyClient:
    """``ProxyClient(admin_url)``: add, list and remove toxics. Errors become FaultError."""

    def __init__(self, admin_url: str, timeout: float = 3.0, client: httpx.Client | None = None) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._own = client is None
        self._http = client or httpx.Client(timeout=timeout, trust_env=False)
        self.timeout = timeout

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, json: object = None) -> httpx.Response:
        try:
            return self._http.request(method, self.admin_url + path, json=json, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise FaultError(f"fault proxy at {self.admin_url} unreachable: {exc}") from exc

    @staticmethod
    def _check(response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                detail = response.json()
            except ValueError:
                detail = response.text
            raise FaultError(f"fault proxy refused to {what}: HTTP {response.status_code}: {detail}")
        body = response.json()
        if not isinstance(body, dict):
            raise FaultError(f"fault proxy answered {what} with {body!r}")
        return body

    def healthy(self) -> bool:
        try:
            return self._http.get(self.admin_url + "/health", timeout=self.timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def routes(self) -> list[dict[str, Any]]:
        routes = self._check(self._request("GET", "/routes"), "list routes")["routes"]
        assert isinstance(routes, list)
        return routes

    def toxics(self, route: str) -> list[dict[str, Any]]:
        for item in self.routes():
            if item["name"] == route:
                toxics = item["toxics"]
                assert isinstance(toxics, list)
                return toxics
        raise FaultError(f"fault proxy has no route {route!r}")

    def add_toxic(
        self,
        route: str,
        type: str,
        *,
        ttl_seconds: float,
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
        toxic_id: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "type": type, "toxicity": toxicity, "ttl_seconds": ttl_seconds, "attributes": attributes or {}
        }
        if toxic_id is not None:
            body["id"] = toxic_id
        result = self._check(self._request("POST", f"/routes/{route}/toxics", body), f"add {type} to {route}")
        return str(result["id"])

    def remove_toxic(self, route: str, toxic_id: str) -> bool:
        """Remove one toxic; False if it was already gone (expired or removed)."""
        response = self._request("DELETE", f"/routes/{route}/toxics/{toxic_id}")
        if response.status_code == 404 and "no toxic" in response.text:
            return False
        self._check(response, f"remove toxic {toxic_id} from {route}")
        return True

    def clear(self, route: str) -> int:
        response = self._request("DELETE", f"/routes/{route}/toxics")
        return int(self._check(response, f"clear {route}")["removed"])

    def reset(self) -> int:
        return int(self._check(self._request("POST", "/reset"), "reset")["removed"])
