"""A Stack made of endpoints only, for running runbooks against services the harness did not start.

``drillctl runbook run`` uses it when given URLs: HTTP-based steps work; process
control (``service`` steps) is refused with :class:`ServiceControlError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ServiceControlError, StackError
from harness.stack.base import Credentials, Endpoint, Service, ServiceAction, ServiceStatus, Stack, StackState


def endpoint_from_url(url: str) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StackError(f"{url!r} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Endpoint(parts.hostname, port, parts.scheme)


class EndpointStack(Stack):
    """Endpoints and credentials of services running elsewhere; no process control."""

    backend = "endpoints"

    def __init__(
        self,
        endpoints: dict[Service, Endpoint],
        credentials: Credentials,
        direct: dict[Service, Endpoint] | None = None,
    ) -> None:
        self.endpoints = dict(endpoints)
        self.direct = dict(direct or {})
        self.credentials = credentials
        self.state = StackState.READY

    @classmethod
    def from_state_file(cls, path: Path) -> EndpointStack:
        """The endpoints of a running local stack, from the ``stack.json`` it keeps in its run dir."""
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            ports: dict[str, int] = data["ports"]
            creds = data["credentials"]
            credentials = Credentials(
                admin_token=creds["admin_token"],
                receiver_token=creds["receiver_token"],
                postgres_user=creds.get("postgres_user", "drill"),
                postgres_password=creds.get("postgres_password", "drill"),
                postgres_db=creds.get("postgres_db", "drill"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StackError(f"{path} is not a readable stack state file: {exc!r}") from exc
        schemes = {Service.REDIS: "redis", Service.POSTGRES: "postgresql"}
        endpoints: dict[Service, Endpoint] = {}
        direct: dict[Service, Endpoint] = {}
        for service in Service:
            if service.value not in ports:
                continue
            scheme = schemes.get(service, "http")
            direct[service] = Endpoint("127.0.0.1", int(ports[service.value]), scheme)
            proxied = ports.get(f"proxy_{service.value}")
            endpoints[service] = Endpoint("127.0.0.1", int(proxied), scheme) if proxied else direct[service]
        if data.get("receiver"):
            endpoints[Service.RECEIVER] = endpoint_from_url(str(data["receiver"]))
        return cls(endpoints, credentials, direct)

    def up(self) -> None:
        self.state = StackState.READY

    def down(self) -> None:
        self.state = StackState.STOPPED

    def services(self) -> tuple[Service, ...]:
        return tuple(self.endpoints)

    def endpoint(self, service: Service) -> Endpoint:
        try:
            return self.endpoints[service]
        except KeyError:
            raise StackError(f"no URL was given for {service.value}") from None

    def direct_endpoint(self, service: Service) -> Endpoint:
        return self.direct.get(service) or self.endpoint(service)

    def control(self, service: Service, action: ServiceAction) -> None:
        raise ServiceControlError(
            f"cannot {action.value} {service.value}: this stack has endpoints only (no process control)"
        )

    def status(self, service: Service) -> ServiceStatus:
        return ServiceStatus.RUNNING if service in self.endpoints else ServiceStatus.ABSENT
