"""Which hosts a scenario names, and which of them are local (loopback or the stack's own services)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from harness.stack.base import Service

STACK_SERVICE_HOSTS = frozenset(
    {s.value for s in Service} | {s.value.replace("_", "-") for s in Service} | {"demo-target", "toxiproxy"}
)
"""Host names of the stack's own services (container names in the Docker stack)."""

_HOST_KEYS = frozenset({"host", "hostname", "address", "upstream", "endpoint", "server"})


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1``, ``localhost`` and ``*.localhost``."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_local_host(host: str) -> bool:
    """Loopback, or one of the stack's own service names."""
    return is_loopback(host) or host.strip().lower() in STACK_SERVICE_HOSTS


def host_of_url(url: str) -> str | None:
    """The host part of ``url`` (lower case), or None when it has none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def host_of_address(address: str) -> str:
    """``host:port`` or ``[v6]:port`` or a bare host -> the host."""
    text = address.strip()
    if text.startswith("["):
        return text[1:].split("]", 1)[0].lower()
    if text.count(":") == 1:
        return text.split(":", 1)[0].lower()
    return text.lower()


def hosts_in_params(params: Any, key: str = "") -> Iterator[str]:
    """Hosts named anywhere in fault parameters: URLs, and values of host-like keys."""
    if isinstance(params, dict):
        for name, value in params.items():
            yield from hosts_in_params(value, str(name).lower())
    elif isinstance(params, list):
        for item in params:
            yield from hosts_in_params(item, key)
    elif isinstance(params, str):
        if "://" in params:
            host = host_of_url(params)
            if host:
                yield host
        elif key in _HOST_KEYS and params.strip():
            yield host_of_address(params)
