"""Recording and subscriber fan-out shared by the real receiver and its fake.

:class:`Receiver` keeps what arrived (thread-safe), tells subscribers about
each notification, and waits for notifications with the one poll loop
(:func:`harness.stack.wait.wait_for`). :class:`FakeReceiver` takes payloads
directly (no HTTP) and calls subscribers inline, for unit tests of the
parts that consume notifications.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ConfigError
from harness.receiver.models import AlertmanagerWebhook, ChatMessage, Notification, SlackMessage
from harness.stack.wait import Predicate, wait_for

log = logging.getLogger(__name__)

Subscriber = Callable[[Notification], None]
NotificationPredicate = Callable[[Notification], bool]


def parse_alertmanager(body: Mapping[str, Any], clock: Clock) -> Notification:
    """Validate an Alertmanager webhook body into a :class:`Notification` stamped with ``clock``."""
    try:
        webhook = AlertmanagerWebhook.model_validate(body)
    except ValidationError as exc:
        raise ConfigError("invalid Alertmanager webhook payload", _problems(exc)) from exc
    return Notification.from_webhook(webhook, clock.now(), clock.monotonic())


def parse_chat(body: Mapping[str, Any], clock: Clock) -> ChatMessage:
    """Validate a Slack-style message into a :class:`ChatMessage` stamped with ``clock``."""
    try:
        message = SlackMessage.model_validate(body)
    except ValidationError as exc:
        raise ConfigError("invalid chat message", _problems(exc)) from exc
    return ChatMessage.from_slack(message, clock.now(), clock.monotonic())


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, err['loc'])) or '<body>'}: {err['msg']}" for err in exc.errors()]


class Receiver:
    """Records notifications and chat messages; fans notifications out to subscribers."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._notifications: list[Notification] = []
        self._chat: list[ChatMessage] = []
        self._subscribers: list[Subscriber] = []
        self.subscriber_errors: list[tuple[Notification, BaseException]] = []

    # -- recorded data ---------------------------------------------------
    def notifications(self) -> list[Notification]:
        with self._lock:
            return list(self._notifications)

    def chat_messages(self) -> list[ChatMessage]:
        with self._lock:
            return list(self._chat)

    def clear(self) -> None:
        """Forget recorded notifications and chat messages (subscribers stay)."""
        with self._lock:
            self._notifications.clear()
            self._chat.clear()
            self.subscriber_errors.clear()

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(notification)`` once for every notification received from now on."""
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback`` (unknown callbacks are ignored)."""
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    # -- waiting -----------------------------------------------------------
    def wait_for_notification(
        self,
        predicate: NotificationPredicate,
        timeout: float,
        *,
        after_mono: float | None = None,
        poll_interval: float = 0.05,
    ) -> Notification:
        """Return the first recorded notification matching ``predicate``.

        ``after_mono`` ignores notifications received before that monotonic
        time. Raises :class:`harness.errors.WaitTimeout`.
        """
        found: list[Notification] = []

        def check() -> bool:
            for notification in self.notifications():
                if after_mono is not None and notification.received_mono < after_mono:
                    continue
                if predicate(notification):
                    found.append(notification)
                    return True
            return False

        wait_for(Predicate(check, "a matching notification"), timeout=timeout,
                 poll_interval=poll_interval, clock=self.clock)
        return found[0]

    def wait_for_chat(self, predicate: Callable[[ChatMessage], bool], timeout: float) -> ChatMessage:
        found: list[ChatMessage] = []

        def check() -> bool:
            found[:] = [m for m in self.chat_messages() if predicate(m)][:1]
            return bool(found)

        wait_for(Predicate(check, "a matching chat message"), timeout=timeout, clock=self.clock)
        return found[0]

    # -- recording ---------------------------------------------------------
    def _record_notification(self, notification: Notification) -> None:
        with self._lock:
            self._notifications.append(notification)
        self._dispatch(notification)

    def _record_chat(self, message: ChatMessage) -> None:
        with self._lock:
            self._chat.append(message)

    def _dispatch(self, notification: Notification) -> None:
        """Hand ``notification`` to the subscribers. Inline here; a worker thread in the real receiver."""
        self._notify_subscribers(notification)

    def _notify_subscribers(self, notification: Notification) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(notification)
            except Exception as exc:  # a broken subscriber must never break the receiver
                log.exception(
                    "receiver subscriber %r failed on notification %s", callback, notification.group_key
                )
                with self._lock:
                    self.subscriber_errors.append((notification, exc))


class FakeReceiver(Receiver):
    """A receiver without HTTP: feed it payloads directly. Subscribers run inline."""

    def post_alertmanager(self, body: Mapping[str, Any]) -> Notification:
        notification = parse_alertmanager(body, self.clock)
        self._record_notification(notification)
        return notification

    def post_chat(self, body: Mapping[str, Any]) -> ChatMessage:
        message = parse_chat(body, self.clock)
        self._record_chat(message)
        return message

    def deliver(self, notification: Notification) -> None:
        """Record an already-built notification (as if Alertmanager had posted it)."""
        self._record_notification(notification)
