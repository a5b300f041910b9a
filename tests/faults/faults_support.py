"""Helpers of the fault tests: real loopback servers and a real fault-proxy process."""

from __future__ import annotations

import json
import socket
import socketserver
import subprocess
import sys
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.paths import repo_root
from harness.stack.wait import Predicate, wait_for


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            return


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self._answer(f"upstream saw {self.path}".encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self._answer(b"echo:" + self.rfile.read(length))

    def log_message(self, format: str, *args: object) -> None:
        return


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True


@dataclass
class RunningProxy:
    process: subprocess.Popen[bytes]
    admin_url: str
    ports: dict[str, int]


def start_proxy(tmp_path: Path, routes: list[dict[str, object]]) -> RunningProxy:
    config = tmp_path / "proxy.json"
    ready = tmp_path / "proxy.ready"
    config.write_text(json.dumps({"admin": {"host": "127.0.0.1", "port": 0}, "routes": routes}))
    log = (tmp_path / "proxy.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.faults.proxy", "--config", str(config), "--ready-file", str(ready)],
        cwd=repo_root(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(Predicate(lambda: ready.exists() or process.poll() is not None, "proxy ready"), timeout=20)
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited: {(tmp_path / 'proxy.log').read_text()}")
        info = json.loads(ready.read_text())
    except BaseException:
        stop_proxy(process)
        raise
    return RunningProxy(process, f"http://127.0.0.1:{info['admin']}", info["routes"])


def stop_proxy(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

