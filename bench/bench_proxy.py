"""Overhead of the fault proxy (HTTP mode, no toxic) against a direct connection.

    .venv/bin/python bench/bench_proxy.py [--rate 1000] [--seconds 3]

Starts a tiny keep-alive HTTP server and the proxy (both subprocesses on
127.0.0.1), then, in one run: paced requests at ``--rate`` per second on one
keep-alive connection, direct and through the proxy (interleaved rounds),
reporting p50/p99 latency and the added latency; then unpaced throughput for
each, reporting the ratio. Bounded: every phase has a fixed duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.stack.wait import Predicate, wait_for  # noqa: E402

BODY = b'{"ok": true}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY), BODY,
)
REQUEST = b"GET /catalog HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"


async def _serve(port_file: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    await asyncio.sleep(120)  # bounded lifetime even if the parent vanishes


def serve(port_file: Path) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(port_file))


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self) -> None:
        self.sock.sendall(REQUEST)
        need, got = len(RESPONSE), 0
        while got < need:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed")
            got += len(chunk)

    def close(self) -> None:
        self.sock.close()


def paced(port: int, rate: float, seconds: float) -> list[float]:
    conn = Conn(port)
    latencies: list[float] = []
    interval = 1.0 / rate
    start = time.perf_counter()
    next_at = start
    try:
        while (now := time.perf_counter()) - start < seconds:
            if now < next_at:
                time.sleep(next_at - now)
            t0 = time.perf_counter()
            conn.request()
            latencies.append(time.perf_counter() - t0)
            next_at += interval
    finally:
        conn.close()
    return latencies


def throughput(port: int, seconds: float) -> float:
    conn = Conn(port)
    count = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            conn.request()
            count += 1
    finally:
        conn.close()
    return count / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=3.0, help="per paced round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            port_file = work / "server.port"
            procs.append(subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)]))
            server_up = Predicate(lambda: port_file.exists() and port_file.read_text() != "", "server")
            wait_for(server_up, timeout=20)
            upstream = int(port_file.read_text())
            config = work / "proxy.json"
            ready = work / "proxy.ready"
            config.write_text(json.dumps({
                "admin": {"host": "127.0.0.1", "port": 0},
                "routes": [{"name": "target", "mode": "http", "listen": {"host": "127.0.0.1", "port": 0},
                            "upstream": {"host": "127.0.0.1", "port": upstream}}],
            }))
            proxy_cmd = [sys.executable, "-m", "harness.faults.proxy", "--config", str(config)]
            procs.append(subprocess.Popen([*proxy_cmd, "--ready-file", str(ready)], cwd=ROOT))
            wait_for(Predicate(ready.exists, "proxy"), timeout=20)
            proxied = int(json.loads(ready.read_text())["routes"]["target"])

            paced(upstream, args.rate, 0.5)  # warm up both paths
            paced(proxied, args.rate, 0.5)
            direct_lat: list[float] = []
            proxy_lat: list[float] = []
            for _ in range(args.rounds):
                direct_lat += paced(upstream, args.rate, args.seconds)
                proxy_lat += paced(proxied, args.rate, args.seconds)
            direct_rps = throughput(upstream, 2.0)
            proxy_rps = throughput(proxied, 2.0)
        finally:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

    ms = 1000.0
    d50, d99 = pct(direct_lat, 0.50) * ms, pct(direct_lat, 0.99) * ms
    p50, p99 = pct(proxy_lat, 0.50) * ms, pct(proxy_lat, 0.99) * ms
    result = {
        "rate_per_s": args.rate,
        "requests": {"direct": len(direct_lat), "proxy": len(proxy_lat)},
        "achieved_rate_per_s": round(len(proxy_lat) / (args.rounds * args.seconds), 1),
        "direct_ms": {"p50": round(d50, 4), "p99": round(d99, 4),
                      "mean": round(statistics.fmean(direct_lat) * ms, 4)},
        "proxy_ms": {"p50": round(p50, 4), "p99": round(p99, 4),
                     "mean": round(statistics.fmean(proxy_lat) * ms, 4)},
        "added_ms": {"p50": round(p50 - d50, 4), "p99": round(p99 - d99, 4)},
        "throughput_rps": {"direct": round(direct_rps), "proxy": round(proxy_rps)},
        "throughput_ratio": round(proxy_rps / direct_rps, 3),
        "target_added_p50_ms": 0.2,
        "meets_target": (p50 - d50) < 0.2,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
