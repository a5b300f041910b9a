"""Helpers of the fault integration tests: steady-state checks on a real local stack."""

from __future__ import annotations

import time
from typing import Any

import httpx

from harness.faults.base import FaultContext
from harness.faults.proxy_client import ProxyClient
from harness.stack.base import Service, ServiceStatus, Stack
from harness.stack.wait import Predicate, wait_for

DEFAULT_RULES: dict[str, Any] = {"max_quantity": 100, "discount_pct": 0, "currency": "EUR"}
DATA_SERVICES = (Service.POSTGRES, Service.REDIS, Service.TARGET, Service.FAULT_PROXY)


def target_url(stack: Stack, path: str) -> str:
    return stack.endpoint(Service.TARGET).url + path


def admin(stack: Stack, method: str, path: str, json: object = None) -> httpx.Response:
    return httpx.request(
        method, stack.direct_endpoint(Service.TARGET).url + path, json=json, timeout=5,
        headers={"Authorization": f"Bearer {stack.credentials.admin_token}"},
    )


def create_order(stack: Stack, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(target_url(stack, "/orders"), json={"sku": "sku-1", "quantity": 1, "customer": "c"},
                      timeout=timeout)


def status_of(fn: Any) -> int:
    try:
        return int(fn().status_code)
    except httpx.HTTPError:
        return 0  # transport failure (timeout, reset)


def eventually(check: Any, description: str, timeout: float = 30.0) -> None:
    wait_for(Predicate(check, description), timeout=timeout, poll_interval=0.2)


def timed_get(stack: Stack, path: str, timeout: float = 10.0) -> tuple[int, float]:
    start = time.perf_counter()
    status = status_of(lambda: httpx.get(target_url(stack, path), timeout=timeout))
    return status, time.perf_counter() - start


def assert_steady(stack: Stack, timeout: float = 60.0) -> None:
    """The stack is as a drill expects it: every data service running, no toxic, target fully working."""
    eventually(lambda: all(stack.status(s) == ServiceStatus.RUNNING for s in DATA_SERVICES),
               "every data service running", timeout)
    with ProxyClient(stack.endpoint(Service.FAULT_PROXY).url) as proxy:
        assert all(route["toxics"] == [] for route in proxy.routes()), proxy.routes()
    eventually(lambda: status_of(lambda: httpx.get(target_url(stack, "/health/ready"), timeout=3)) == 200,
               "target ready", timeout)
    eventually(lambda: status_of(lambda: create_order(stack)) == 201, "orders accepted", timeout)
    order_id = create_order(stack).json()["id"]
    assert httpx.get(target_url(stack, f"/orders/{order_id}"), timeout=5).status_code == 200
    rules = admin(stack, "GET", "/admin/rules").json()["current"]["rules"]
    assert rules == DEFAULT_RULES, rules
    assert httpx.get(target_url(stack, "/catalog"), timeout=5).status_code == 200


def make_ctx(stack: Stack, **kwargs: Any) -> FaultContext:
    return FaultContext(stack=stack, install_signal_handlers=False, **kwargs)
