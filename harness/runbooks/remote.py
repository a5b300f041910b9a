"""A Stack made of endpoints only, for running runbooks against services the harness did not start.

``drillctl runbook run`` uses it when given URLs: HTTP-based steps work; process
control (``service`` steps) is refused with :class:`ServiceControlError`. (Given a
``--stack-file``, it attaches to the running local stack instead: ``harness.faults.attach``.)
"""

from __future__ import annotations

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
