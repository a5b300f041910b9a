"""A real local stack (Postgres, Redis, the demo target, ...) for the load tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.stack.base import Service
from harness.stack.local import LocalSettings, LocalStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Started once per test module, always taken down (even when up() fails half-way)."""
    local = LocalStack(LocalSettings(run_dir=tmp_path_factory.mktemp("load-stack"), with_proxy=False))
    try:
        local.up()
        yield local
    finally:
        local.down()


@pytest.fixture
def target_url(stack: LocalStack) -> str:
    return stack.endpoint(Service.TARGET).url


@pytest.fixture
def pg_dsn(stack: LocalStack) -> str:
    c = stack.credentials
    ep = stack.direct_endpoint(Service.POSTGRES)
    return f"postgresql://{c.postgres_user}:{c.postgres_password}@{ep.host}:{ep.port}/{c.postgres_db}"


@pytest.fixture
def admin(stack: LocalStack, target_url: str) -> Iterator[httpx.Client]:
    """The target's admin API; every flag is switched off again after the test."""
    headers = {"Authorization": f"Bearer {stack.credentials.admin_token}"}
    with httpx.Client(base_url=target_url, headers=headers, timeout=5.0) as client:
        try:
            yield client
        finally:
            for flag in ("read_only", "cache_bypass", "throttle_noncritical"):
                client.put(f"/admin/flags/{flag}", json={"enabled": False})
