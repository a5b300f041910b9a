"""The harness's webhook receiver (Alertmanager notifications, chat messages)."""

from harness.receiver.base import FakeReceiver, Receiver
from harness.receiver.models import AlertPayload, AlertStatus, ChatMessage, Notification
from harness.receiver.server import WebhookReceiver

__all__ = [
    "AlertPayload",
    "AlertStatus",
    "ChatMessage",
    "FakeReceiver",
    "Notification",
    "Receiver",
    "WebhookReceiver",
]
