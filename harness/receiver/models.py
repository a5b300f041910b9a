"""What the receiver records: Alertmanager notifications and chat messages.

The wire formats (Alertmanager webhook v4, Slack-style chat) belong to other
programs, so their models ignore unknown fields (a newer Alertmanager may add
some); the records the harness keeps forbid them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def _zero_time_is_none(value: Any) -> Any:
    # Alertmanager sends endsAt "0001-01-01T00:00:00Z" for alerts without an end.
    if isinstance(value, str) and value.startswith("0001-01-01"):
        return None
    return value


OptionalEnd = Annotated[datetime | None, BeforeValidator(_zero_time_is_none)]


class AlertPayload(BaseModel):
    """One alert of a notification (Alertmanager's ``alerts[]`` entry)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: OptionalEnd = Field(default=None, alias="endsAt")
    fingerprint: str = ""
    generator_url: str = Field(default="", alias="generatorURL")

    @property
    def name(self) -> str:
        """The ``alertname`` label ('' if absent)."""
        return self.labels.get("alertname", "")

    @property
    def runbook_id(self) -> str | None:
        return self.annotations.get("runbook_id")


class AlertmanagerWebhook(BaseModel):
    """The Alertmanager webhook body (version 4), as received."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    version: str
    group_key: str = Field(alias="groupKey")
    status: AlertStatus
    receiver: str
    alerts: list[AlertPayload]
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"unsupported Alertmanager webhook version {value!r} (expected '4')")
        return value


class Notification(BaseModel):
    """One Alertmanager POST as recorded by the receiver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: AlertStatus
    alerts: list[AlertPayload]
    received_wall: datetime
    received_mono: float
    group_key: str
    receiver: str
    group_labels: dict[str, str] = Field(default_factory=dict)
    common_labels: dict[str, str] = Field(default_factory=dict)
    common_annotations: dict[str, str] = Field(default_factory=dict)
    external_url: str = ""
    truncated_alerts: int = 0

    @classmethod
    def from_webhook(
        cls, body: AlertmanagerWebhook, received_wall: datetime, received_mono: float
    ) -> Notification:
        return cls(
            status=body.status,
            alerts=list(body.alerts),
            received_wall=received_wall,
            received_mono=received_mono,
            group_key=body.group_key,
            receiver=body.receiver,
            group_labels=dict(body.group_labels),
            common_labels=dict(body.common_labels),
            common_annotations=dict(body.common_annotations),
            external_url=body.external_url,
            truncated_alerts=body.truncated_alerts,
        )

    def alert_names(self) -> set[str]:
        return {alert.name for alert in self.alerts}

    def has_alert(self, name: str, status: AlertStatus | str | None = None) -> bool:
        """True if an alert called ``name`` (in ``status``, if given) is in this notification."""
        return any(alert.name == name and (status is None or alert.status == status) for alert in self.alerts)


class SlackMessage(BaseModel):
    """A Slack-style incoming-webhook body: ``text`` and/or ``blocks``, optional ``channel``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str = ""
    channel: str | None = None
    blocks: list[dict[str, Any]] | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SlackMessage:
        if not self.text and not self.blocks:
            raise ValueError("a chat message needs 'text' or 'blocks'")
        return self


class ChatMessage(BaseModel):
    """One chat message as recorded by the receiver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    channel: str | None = None
    blocks: list[dict[str, Any]] | None = None
    username: str | None = None
    received_wall: datetime
    received_mono: float

    @classmethod
    def from_slack(cls, body: SlackMessage, received_wall: datetime, received_mono: float) -> ChatMessage:
        return cls(
            text=body.text,
            channel=body.channel,
            blocks=body.blocks,
            username=body.username,
            received_wall=received_wall,
            received_mono=received_mono,
        )
