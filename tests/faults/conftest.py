"""Fixtures of the fault tests (real loopback servers, a real fault proxy)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_support import (
    EchoHandler,
    EchoServer,
    HttpHandler,
    HttpServer,
    RunningProxy,
    start_proxy,
    stop_proxy,
)


@pytest.fixture
def echo_server() -> Iterator[int]:
    server = EchoServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server() -> Iterator[int]:
    server = HttpServer(("127.0.0.1", 0), HttpHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(tmp_path: Path, echo_server: int, http_server: int) -> Iterator[RunningProxy]:
    running = start_proxy(
        tmp_path,
        [
            {"name": "echo", "mode": "tcp", "listen": {"host": "127.0.0.1", "port": 0},
             "upstream": {"host": "127.0.0.1", "port": echo_server}},
            {"name": "web", "mode": "http", "listen": {"host": "127.0.0.1", "port": 0},
             "upstream": {"host": "127.0.0.1", "port": http_server}},
        ],
    )
    try:
        yield running
    finally:
        stop_proxy(running.process)

