"""HTTP mode of the fault proxy, and the minimal HTTP/1.1 framing it (and the admin API) needs.

Parsing is kept to what framing requires: the request/status line, and the
``Content-Length``, ``Transfer-Encoding`` and ``Connection`` headers. Bytes
are forwarded unchanged. Each client connection keeps one upstream
connection open for its whole life (keep-alive on both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass

from harness.faults.proxy_metrics import METRICS
from harness.faults.proxy_routes import Route
from harness.faults.toxics import Direction, HttpErrorAttrs, ToxicType

HEAD_LIMIT = 64 * 1024
CONNECT_TIMEOUT = 5.0
UPSTREAM_TIMEOUT = 120.0

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class HttpProtocolError(Exception):
    """The peer sent something that is not HTTP/1.x framing we understand."""


@dataclass(frozen=True)
class Head:
    """A parsed request or response head (the raw bytes are kept for forwarding)."""

    raw: bytes
    first: list[str]
    content_length: int | None
    chunked: bool
    close: bool

    @property
    def method(self) -> str:
        return self.first[0]

    @property
    def target(self) -> str:
        return self.first[1] if len(self.first) > 1 else "/"

    @property
    def status(self) -> int:
        try:
            return int(self.first[1])
        except (IndexError, ValueError) as exc:
            raise HttpProtocolError(f"bad status line {' '.join(self.first)!r}") from exc


def parse_head(raw: bytes, *, is_request: bool) -> Head:
    lines = raw[:-4].split(b"\r\n")
    first = lines[0].decode("latin-1").split(" ", 2)
    if len(first) < 2:
        raise HttpProtocolError(f"bad first line {lines[0][:80]!r}")
    version = first[0] if not is_request else (first[2] if len(first) > 2 else "HTTP/1.0")
    close = version == "HTTP/1.0"
    content_length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            try:
                content_length = int(value.strip())
            except ValueError as exc:
                raise HttpProtocolError("bad Content-Length") from exc
            if content_length < 0:
                raise HttpProtocolError("negative Content-Length")
        elif lname == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lname == b"connection":
            token = value.strip().lower()
            if token == b"close":
                close = True
            elif token == b"keep-alive":
                close = False
    return Head(raw, first, content_length, chunked, close)


async def read_head(reader: asyncio.StreamReader, *, is_request: bool) -> Head | None:
    """The next head, or None at a clean EOF between messages."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise HttpProtocolError("connection closed inside a message head") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpProtocolError("message head too large") from exc
    return parse_head(raw, is_request=is_request)


async def read_body(reader: asyncio.StreamReader, head: Head, *, no_body: bool = False) -> bytes:
    """The raw body bytes (chunk framing included). Until-EOF bodies are read whole."""
    if no_body:
        return b""
    if head.chunked:
        parts: list[bytes] = []
        while True:
            line = await reader.readuntil(b"\r\n")
            parts.append(line)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise HttpProtocolError("bad chunk size") from exc
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = await reader.readuntil(b"\r\n")
                    parts.append(trailer)
                    if trailer == b"\r\n":
                        return b"".join(parts)
            parts.append(await reader.readexactly(size + 2))
    if head.content_length is not None:
        return await reader.readexactly(head.content_length) if head.content_length else b""
    return b""


def response_bytes(
    status: int, payload: object, *, close: bool = False, extra_headers: dict[str, str] | None = None
) -> bytes:
    body = json.dumps(payload).encode()
    headers = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    headers.extend(f"{k}: {v}" for k, v in (extra_headers or {}).items())
    if close:
        headers.append("Connection: close")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HttpRouteConnection:
    """One client connection on an HTTP route."""

    def __init__(self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.route = route
        self.reader, self.writer = reader, writer
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def run(self) -> None:
        _nodelay(self.writer)
        try:
            while True:
                head = await read_head(self.reader, is_request=True)
                if head is None:
                    return
                body = await read_body(self.reader, head)
                if not await self._exchange(head, body):
                    return
        except HttpProtocolError as exc:
            with contextlib.suppress(Exception):
                self.writer.write(response_bytes(400, {"error": str(exc)}, close=True))
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            return
        finally:
            self._close_upstream()
            with contextlib.suppress(Exception):
                self.writer.close()

    def _observe(self, head: Head, status: int, started: float) -> None:
        elapsed = asyncio.get_running_loop().time() - started
        METRICS.observe(self.route.name, head.target, head.method, status, elapsed)

    async def _exchange(self, head: Head, body: bytes) -> bool:
        """Answer one request; False when the client connection must close."""
        started = asyncio.get_running_loop().time()
        down_delay = 0.0
        if self.route.toxics:
            error, up_delay, down_delay = self._decide(head)
            if error is not None:
                self.writer.write(error[1])
                await self.writer.drain()
                self._observe(head, error[0], started)
                return not head.close
            if up_delay:
                await asyncio.sleep(up_delay)
        response = await self._forward(head, body)
        if response is None:
            self.writer.write(response_bytes(502, {"error": "upstream unavailable"}, close=head.close))
            await self.writer.drain()
            self._observe(head, 502, started)
            return not head.close
        resp_head, resp_body, upstream_closes = response
        if down_delay:
            await asyncio.sleep(down_delay)
        self.writer.write(resp_head.raw + resp_body if resp_body else resp_head.raw)
        self._observe(head, resp_head.status, started)
        if self.writer.transport.get_write_buffer_size() > 256 * 1024:
            await self.writer.drain()
        if upstream_closes:
            self._close_upstream()
        return not (head.close or (upstream_closes and resp_head.content_length is None
                                   and not resp_head.chunked))

    def _decide(self, head: Head) -> tuple[tuple[int, bytes] | None, float, float]:
        up_delay = down_delay = 0.0
        for toxic in list(self.route.toxics.values()):
            if toxic.type == ToxicType.HTTP_ERROR:
                if toxic.matches_request(head.method, head.target) and toxic.roll():
                    attrs = toxic.attrs
                    assert isinstance(attrs, HttpErrorAttrs)
                    payload = {"error": attrs.message, "status": attrs.status, "toxic": toxic.id}
                    answer = response_bytes(
                        attrs.status, payload, close=head.close, extra_headers={"X-Fault-Injected": toxic.id}
                    )
                    return (attrs.status, answer), 0.0, 0.0
            elif toxic.type == ToxicType.LATENCY and toxic.roll():
                delay = toxic.delay_seconds()
                if toxic.applies(Direction.UPSTREAM):
                    up_delay += delay
                if toxic.applies(Direction.DOWNSTREAM):
                    down_delay += delay
        return None, up_delay, down_delay

    async def _forward(self, head: Head, body: bytes) -> tuple[Head, bytes, bool] | None:
        """Send the request upstream (reconnecting once if a kept-alive connection went stale)."""
        for attempt in range(2):
            reused = self.upstream is not None
            if self.upstream is None:
                upstream = self.route.config.upstream
                try:
                    self.upstream = await asyncio.wait_for(
                        asyncio.open_connection(upstream.host, upstream.port, limit=HEAD_LIMIT),
                        CONNECT_TIMEOUT,
                    )
                except (OSError, TimeoutError):
                    return None
                _nodelay(self.upstream[1])
            reader, writer = self.upstream
            try:
                writer.write(head.raw + body if body else head.raw)
                async with asyncio.timeout(UPSTREAM_TIMEOUT):  # no extra task per request (unlike wait_for)
                    resp_head = await read_head(reader, is_request=False)
                if resp_head is None:
                    raise ConnectionResetError("upstream closed the connection")
            except (ConnectionError, OSError, HttpProtocolError, TimeoutError):
                self._close_upstream()
                if reused and attempt == 0:
                    continue
                return None
            status = resp_head.status
            no_body = head.method == "HEAD" or status < 200 or status in (204, 304)
            if no_body or resp_head.chunked or resp_head.content_length is not None:
                resp_body = await read_body(reader, resp_head, no_body=no_body)
                return resp_head, resp_body, resp_head.close
            return resp_head, await reader.read(), True  # body delimited by EOF
        return None

    def _close_upstream(self) -> None:
        if self.upstream is not None:
            with contextlib.suppress(Exception):
                self.upstream[1].close()
            self.upstream = None


async def handle_http(route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept callback of an HTTP route."""
    await HttpRouteConnection(route, reader, writer).run()
