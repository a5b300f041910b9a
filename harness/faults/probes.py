"""Direct checks faults use to prove a revert worked (always via ``direct_endpoint``)."""

from __future__ import annotations

from typing import Any

import psycopg
import redis

from harness.errors import FaultError, ServiceControlError
from harness.faults.base import FaultContext
from harness.stack.base import Service, ServiceAction, ServiceStatus
from harness.stack.wait import HttpOk, Predicate, WaitStrategy, wait_for

PG_TRANSIENT = (psycopg.OperationalError, OSError)


def postgres_connect(ctx: FaultContext, *, application_name: str = "drill-fault", timeout: float = 3.0,
                     autocommit: bool = True) -> psycopg.Connection[tuple[Any, ...]]:
    endpoint = ctx.stack.direct_endpoint(Service.POSTGRES)
    creds = ctx.stack.credentials
    return psycopg.connect(
        host=endpoint.host, port=endpoint.port, user=creds.postgres_user, password=creds.postgres_password,
        dbname=creds.postgres_db, connect_timeout=max(1, int(timeout)), application_name=application_name,
        autocommit=autocommit,
    )


def count_orders(ctx: FaultContext) -> int:
    """Rows in ``orders`` (0 if the target has not created the table yet)."""
    try:
        with postgres_connect(ctx) as conn:
            row = conn.execute("SELECT to_regclass('public.orders') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return 0
            counted = conn.execute("SELECT count(*) FROM orders").fetchone()
    except psycopg.Error as exc:
        raise FaultError(f"cannot count orders in Postgres: {exc}") from exc
    return int(counted[0]) if counted else 0


def _redis_ping(ctx: FaultContext) -> bool:
    endpoint = ctx.stack.direct_endpoint(Service.REDIS)
    client = redis.Redis(
        host=endpoint.host, port=endpoint.port, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


def _postgres_answers(ctx: FaultContext) -> bool:
    with postgres_connect(ctx, timeout=2.0) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def readiness(ctx: FaultContext, service: Service) -> WaitStrategy:
    if service == Service.REDIS:
        return Predicate(lambda: _redis_ping(ctx), "redis answers PING")
    if service == Service.POSTGRES:
        return Predicate(lambda: _postgres_answers(ctx), "postgres answers SELECT 1")
    if service == Service.TARGET:
        return HttpOk(ctx.admin_url("/health/live"))
    raise FaultError(f"no readiness check for {service.value}")


def wait_ready(ctx: FaultContext, service: Service, timeout: float | None = None) -> float:
    transient = (ConnectionError, TimeoutError, OSError, redis.RedisError, psycopg.Error, *_httpx_errors())
    return wait_for(readiness(ctx, service), timeout=timeout or ctx.ready_timeout_s, poll_interval=0.1,
                    clock=ctx.clock, transient=transient)


def _httpx_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError,)


def ensure_running(ctx: FaultContext, service: Service, *, wait: bool = True) -> str:
    """Bring ``service`` back (RESUME a paused one, START a stopped one); what was done."""
    status = ctx.stack.status(service)
    if status == ServiceStatus.PAUSED:
        ctx.stack.control(service, ServiceAction.RESUME)
        done = "resumed"
    elif status in (ServiceStatus.STOPPED, ServiceStatus.ABSENT):
        try:
            ctx.stack.control(service, ServiceAction.START)
        except ServiceControlError as exc:
            raise FaultError(f"cannot start {service.value} again: {exc}") from exc
        done = "started"
    else:
        done = "running"
    if wait:
        wait_ready(ctx, service)
    return done
