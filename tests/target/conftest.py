"""Fixtures of the demo-target tests (processes come from :mod:`target_procs`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from target_procs import (
    PostgresServer,
    RedisServer,
    Target,
    TargetFactory,
    postgres_server,
    redis_server,
    running_target,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def target(
    postgres: PostgresServer, redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    with running_target(postgres.url, redis.url, tmp_path_factory.mktemp("target")) as running:
        running.wait_ready()
        yield running


@pytest.fixture
def target_factory(tmp_path: Path) -> Iterator[TargetFactory]:
    """Start extra targets (own state file, own env); all stopped at the end of the test."""
    stack = contextlib.ExitStack()
    counter = iter(range(1000))

    def start(pg_url: str, redis_url: str, memory_limit_mb: int | None = None, **env: str) -> Target:
        run_dir = tmp_path / f"target-{next(counter)}"
        return stack.enter_context(running_target(pg_url, redis_url, run_dir, memory_limit_mb, **env))

    with stack:
        yield start
