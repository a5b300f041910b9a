"""The harness's webhook receiver: Alertmanager notifications and chat messages over HTTP.

A stdlib :class:`ThreadingHTTPServer` bound to loopback, served from a daemon
thread. Every POST needs ``Authorization: Bearer <token>`` (compared in
constant time); anything else is answered 401 and neither recorded nor
dispatched. Subscribers run in one worker thread, in arrival order, so a slow
runbook never holds up Alertmanager's POST.

Routes: ``POST /alertmanager`` (webhook v4), ``POST /chat`` (Slack-style),
``GET /health`` (no auth).
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ConfigError, StackError
from harness.receiver.base import Receiver, parse_alertmanager, parse_chat
from harness.receiver.models import Notification
from harness.stack.base import Endpoint
from harness.stack.wait import Predicate, wait_for

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_STOP = None


class WebhookReceiver(Receiver):
    """Bearer-token protected webhook receiver. ``start()`` binds; ``stop()`` is idempotent."""

    def __init__(
        self,
        token: str,
        clock: Clock = SYSTEM_CLOCK,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        request_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(clock)
        if not token:
            raise ConfigError("the receiver token must not be empty")
        self._token = token.encode()
        self.host, self.port = host, port
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s
        self.rejected = 0
        """Requests refused (401/4xx), for diagnostics."""
        self._server: ThreadingHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._queue: queue.Queue[Notification | None] = queue.Queue()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        if self._server is not None:
            return
        try:
            server = ThreadingHTTPServer((self.host, self.port), _handler_class(self))
        except OSError as exc:
            raise StackError(f"the webhook receiver cannot listen on {self.host}:{self.port}: {exc}") from exc
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._worker = threading.Thread(
            target=self._run_subscribers, name="receiver-subscribers", daemon=True
        )
        self._worker.start()
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="receiver-http", daemon=True
        )
        self._serve_thread.start()
        log.info("webhook receiver listening on %s", self.endpoint.url)

    def stop(self, timeout: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout)
        self._queue.put(_STOP)
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("a receiver subscriber was still running %.1fs after stop()", timeout)

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> Endpoint:
        if self._server is None:
            raise StackError("the webhook receiver is not running")
        return Endpoint(self.host, self.port)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every received notification has been handed to the subscribers."""
        wait_for(Predicate(lambda: self._queue.unfinished_tasks == 0, "receiver subscribers idle"),
                 timeout=timeout, clock=self.clock)

    # -- internals ---------------------------------------------------------
    def count_rejected(self) -> None:
        with self._lock:
            self.rejected += 1

    def authorized(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._token)

    def _dispatch(self, notification: Notification) -> None:
        self._queue.put(notification)

    def _run_subscribers(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._notify_subscribers(item)
            finally:
                self._queue.task_done()

    def handle_post(self, path: str, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        """Record one authorised POST; returns the status and JSON answer."""
        if path not in ("/alertmanager", "/chat"):
            return HTTPStatus.NOT_FOUND, {"error": f"no route {path}"}
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {exc}"}
        if not isinstance(document, dict):
            return HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"}
        try:
            if path == "/alertmanager":
                notification = parse_alertmanager(document, self.clock)
                self._record_notification(notification)
                log.info("notification %s (%s): %s", notification.status, notification.group_key,
                         ", ".join(sorted(notification.alert_names())))
            else:
                self._record_chat(parse_chat(document, self.clock))
        except ConfigError as exc:
            return HTTPStatus.BAD_REQUEST, {"error": str(exc), "problems": exc.problems}
        return HTTPStatus.OK, {"status": "ok"}


def _handler_class(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "drill-receiver/1"
        protocol_version = "HTTP/1.1"
        timeout = receiver.request_timeout_s

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                self._answer(HTTPStatus.OK, {"status": "ok"})
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def do_POST(self) -> None:
            if not receiver.authorized(self.headers.get("Authorization")):
                receiver.count_rejected()
                self._answer(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"},
                             extra={"WWW-Authenticate": 'Bearer realm="drill-receiver"'}, close=True)
                return
            length_header = self.headers.get("Content-Length")
            if length_header is None or not length_header.isdigit():
                receiver.count_rejected()
                self._answer(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"}, close=True)
                return
            length = int(length_header)
            if length > receiver.max_body_bytes:
                receiver.count_rejected()
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             {"error": f"body above {receiver.max_body_bytes} bytes"}, close=True)
                return
            body = self.rfile.read(length)
            if len(body) < length:
                self._answer(HTTPStatus.BAD_REQUEST, {"error": "truncated body"}, close=True)
                return
            status, answer = receiver.handle_post(self.path.split("?")[0], body)
            if status != HTTPStatus.OK:
                receiver.count_rejected()
            self._answer(status, answer)

        def do_PUT(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}, close=True)

        do_DELETE = do_PATCH = do_PUT

        def _answer(self, status: HTTPStatus, document: dict[str, Any], *,
                    extra: dict[str, str] | None = None, close: bool = False) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if close:
                # The unread body would otherwise be parsed as the next request.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("receiver %s - %s", self.address_string(), format % args)

    return Handler
