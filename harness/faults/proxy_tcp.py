"""TCP mode of the fault proxy: a bidirectional byte relay with toxics.

With no toxic on the route each chunk costs one dict-emptiness check; the
bytes themselves are never inspected. Toxics are looked up per chunk, so a
toxic added at run time also affects connections that were already open (a
service's connection pool), and toxicity is drawn once per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from harness.faults.proxy_routes import Route
from harness.faults.toxics import (
    ActiveToxic,
    BandwidthAttrs,
    ConnectionDraws,
    Direction,
    ResetPeerAttrs,
    SlowCloseAttrs,
    TimeoutAttrs,
    ToxicType,
)

CHUNK = 65536
HIGH_WATER = 256 * 1024
CONNECT_TIMEOUT = 5.0
HALF_CLOSE_TIMEOUT = 60.0


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpConnection:
    """One client connection and its upstream connection."""

    def __init__(
        self,
        route: Route,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.route = route
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.draws = ConnectionDraws()
        self.closed = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._reset = False

    # -- reacting to toxics -------------------------------------------------
    def on_toxic_added(self, toxic: ActiveToxic) -> None:
        if not self.draws.hit(toxic):
            return
        if toxic.type == ToxicType.RESET_PEER:
            assert isinstance(toxic.attrs, ResetPeerAttrs)
            self._schedule(toxic.attrs.timeout_ms, self.reset)
        elif toxic.type == ToxicType.TIMEOUT:
            assert isinstance(toxic.attrs, TimeoutAttrs)
            if toxic.attrs.timeout_ms > 0:
                self._schedule(toxic.attrs.timeout_ms, self._timeout_close, toxic.id)

    def _schedule(self, delay_ms: float, callback: object, *args: object) -> None:
        loop = self.route.loop
        self._timers.append(loop.call_later(delay_ms / 1000.0, callback, *args))  # type: ignore[arg-type]

    def _timeout_close(self, toxic_id: str) -> None:
        if toxic_id in self.route.toxics:  # only if the toxic is still installed
            self.abort()

    def reset(self) -> None:
        """Send RST to both peers."""
        if self.closed.is_set():
            return
        self._reset = True
        _abort_with_rst(self.client_writer)
        _abort_with_rst(self.upstream_writer)
        self.closed.set()

    def abort(self) -> None:
        if self.closed.is_set():
            return
        self.client_writer.transport.abort()
        self.upstream_writer.transport.abort()
        self.closed.set()

    # -- relay ----------------------------------------------------------------
    async def run(self) -> None:
        for toxic in list(self.route.toxics.values()):
            self.on_toxic_added(toxic)
        self.route.on_added.add(self.on_toxic_added)
        up = asyncio.ensure_future(
            self._pump(self.client_reader, self.upstream_writer, Direction.UPSTREAM)
        )
        down = asyncio.ensure_future(
            self._pump(self.upstream_reader, self.client_writer, Direction.DOWNSTREAM)
        )
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _pending = await asyncio.wait({up, down, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed not in done and not (up.done() and down.done()):
                # one side half-closed: let the other finish, bounded
                pending = {task for task in (up, down, closed) if not task.done()}
                await asyncio.wait(pending, timeout=HALF_CLOSE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.route.on_added.discard(self.on_toxic_added)
            for timer in self._timers:
                timer.cancel()
            for task in (up, down, closed):
                task.cancel()
            for writer in (self.client_writer, self.upstream_writer):
                with contextlib.suppress(Exception):
                    writer.close()
            self.closed.set()

    async def _slow_close_delay(self) -> None:
        if self._reset:
            return
        delays = [
            t.attrs.delay_ms
            for t in self.route.of_type(ToxicType.SLOW_CLOSE)
            if isinstance(t.attrs, SlowCloseAttrs) and self.draws.hit(t)
        ]
        if delays:
            await asyncio.sleep(max(delays) / 1000.0)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: Direction
    ) -> None:
        toxics = self.route.toxics
        transport = writer.transport
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    await self._slow_close_delay()
                    if writer.can_write_eof() and not transport.is_closing():
                        writer.write_eof()
                    return
                if toxics and not await self._apply(data, direction):
                    continue
                writer.write(data)
                if transport.get_write_buffer_size() > HIGH_WATER:
                    await writer.drain()
        except (ConnectionError, OSError):
            return

    async def _apply(self, data: bytes, direction: Direction) -> bool:
        """Run the route's toxics on one chunk; False means the chunk is swallowed."""
        for toxic in list(self.route.toxics.values()):
            if not toxic.applies(direction) or not self.draws.hit(toxic):
                continue
            kind = toxic.type
            if kind in (ToxicType.TIMEOUT, ToxicType.RESET_PEER):
                return False  # held, never forwarded (reset fires from its timer)
            if kind == ToxicType.LATENCY:
                await asyncio.sleep(toxic.delay_seconds())
            elif kind == ToxicType.BANDWIDTH:
                assert isinstance(toxic.attrs, BandwidthAttrs)
                await asyncio.sleep(len(data) * 8 / (toxic.attrs.rate_kbps * 1000.0))
        return True


async def handle_tcp(route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept callback of a TCP route."""
    upstream = route.config.upstream
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        upstream_pair = await asyncio.wait_for(
            asyncio.open_connection(upstream.host, upstream.port), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError):
        writer.transport.abort()
        return
    up_sock = upstream_pair[1].get_extra_info("socket")
    if up_sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            up_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await TcpConnection(route, (reader, writer), upstream_pair).run()
