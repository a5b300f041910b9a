"""The fault-injecting proxy: ``python -m harness.faults.proxy --config FILE``.

One listener per route (HTTP or TCP mode), all on loopback, plus an admin
HTTP API (see docs/ARCHITECTURE.md, "Fault proxy")::

    GET    /health
    GET    /routes                       routes, active toxics, remaining TTL
    POST   /routes/{name}/toxics         {"type", "toxicity", "ttl_seconds", "attributes", "id"?} -> {"id"}
    DELETE /routes/{name}/toxics/{id}
    DELETE /routes/{name}/toxics
    POST   /reset                        remove every toxic

Toxics are removed by timers inside this process when their TTL runs out, so
they expire even if the harness that added them is dead. ``--ready-file``
writes the bound ports (useful with port 0) once every listener is up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.faults.proxy_http import (
    HEAD_LIMIT,
    HttpProtocolError,
    handle_http,
    read_body,
    read_head,
    response_bytes,
)
from harness.faults.proxy_metrics import METRICS
from harness.faults.proxy_routes import ProxyConfig, Route, load_config
from harness.faults.proxy_tcp import handle_tcp

_TOXIC_PATH = re.compile(r"^/routes/([^/]+)/toxics(?:/([^/]+))?/?$")


class FaultProxy:
    """All listeners and the admin API of one proxy process (or one event loop in tests)."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.routes: dict[str, Route] = {}
        self.servers: list[asyncio.Server] = []
        self.admin_port: int = config.admin.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for route_config in self.config.routes:
                route = Route(route_config, loop)
                handler = handle_http if route.mode == "http" else handle_tcp
                server = await asyncio.start_server(
                    _bind(handler, route), route_config.listen.host, route_config.listen.port,
                    limit=HEAD_LIMIT, reuse_address=True,
                )
                route.listen_port = server.sockets[0].getsockname()[1]
                self.routes[route.name] = route
                self.servers.append(server)
            admin = await asyncio.start_server(
                self._admin_connection, self.config.admin.host, self.config.admin.port, reuse_address=True
            )
        except OSError:
            await self.stop()
            raise
        self.admin_port = admin.sockets[0].getsockname()[1]
        self.servers.append(admin)

    async def stop(self) -> None:
        for route in self.routes.values():
            route.clear()
        for server in self.servers:
            server.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self.servers.clear()

    def ports(self) -> dict[str, Any]:
        return {"admin": self.admin_port, "routes": {n: r.listen_port for n, r in self.routes.items()}}

    # -- admin API -----------------------------------------------------------
    async def _admin_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await read_head(reader, is_request=True)
                if head is None:
                    return
                body = await read_body(reader, head)
                path = head.target.split("?", 1)[0]
                if path == "/metrics" and head.method == "GET":
                    writer.write(_text_response(METRICS.exposition(), close=head.close))
                else:
                    status, payload = self.dispatch(head.method, path, body)
                    writer.write(response_bytes(status, payload, close=head.close))
                await writer.drain()
                if head.close:
                    return
        except (HttpProtocolError, ConnectionError, OSError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def dispatch(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        if path == "/health" and method == "GET":
            return 200, {"status": "ok", "routes": sorted(self.routes)}
        if path == "/routes" and method == "GET":
            return 200, {"routes": [r.describe() for r in self.routes.values()]}
        if path == "/reset" and method == "POST":
            return 200, {"removed": sum(r.clear() for r in self.routes.values())}
        match = _TOXIC_PATH.match(path)
        if match is None:
            return 404, {"error": f"no such endpoint: {method} {path}"}
        route = self.routes.get(match.group(1))
        if route is None:
            return 404, {"error": f"no such route {match.group(1)!r}", "routes": sorted(self.routes)}
        toxic_id = match.group(2)
        if method == "POST" and toxic_id is None:
            try:
                toxic = route.add(json.loads(body or b"null"))
            except ValueError as exc:
                return 400, {"error": f"body is not JSON: {exc}"}
            except ConfigError as exc:
                return 400, {"error": str(exc).splitlines()[0], "problems": exc.problems}
            return 201, {"id": toxic.id, "remaining_seconds": toxic.spec.ttl_seconds}
        if method == "DELETE" and toxic_id is None:
            return 200, {"removed": route.clear()}
        if method == "DELETE" and toxic_id is not None:
            if route.remove(toxic_id):
                return 200, {"removed": 1}
            return 404, {"error": f"route {route.name!r} has no toxic {toxic_id!r}"}
        return 405, {"error": f"{method} not allowed on {path}"}


def _text_response(body: bytes, *, close: bool) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + body


def _bind(
    handler: Callable[[Route, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]], route: Route
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handler(route, reader, writer)

    return accept


def _write_ready_file(path: Path, ports: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **ports}))
    os.replace(tmp, path)


async def serve(config: ProxyConfig, ready_file: Path | None = None) -> None:
    proxy = FaultProxy(config)
    await proxy.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready_file is not None:
        _write_ready_file(ready_file, proxy.ports())
    try:
        await stop.wait()
    finally:
        await proxy.stop()


def _install_fast_loop() -> None:
    try:
        import uvloop
    except ImportError:  # plain asyncio works, just slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.faults.proxy", description="fault proxy")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--ready-file", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    _install_fast_loop()
    try:
        asyncio.run(serve(config, args.ready_file))
    except OSError as exc:
        print(f"fault proxy could not listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
