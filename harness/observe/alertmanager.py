"""Alertmanager API v2 client: alerts (with inhibition/silence state), readiness, silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import StackError
from harness.observe.api import JsonApiClient


class AmAlertState(StrEnum):
    ACTIVE = "active"
    SUPPRESSED = "suppressed"
    UNPROCESSED = "unprocessed"


class AmAlertStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    state: AmAlertState
    inhibited_by: list[str] = Field(default_factory=list, alias="inhibitedBy")
    silenced_by: list[str] = Field(default_factory=list, alias="silencedBy")


class AmAlert(BaseModel):
    """One alert from ``/api/v2/alerts``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    fingerprint: str = ""
    status: AmAlertStatus
    receivers: list[dict[str, str]] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def receiver_names(self) -> list[str]:
        return [r.get("name", "") for r in self.receivers]

    @property
    def inhibited(self) -> bool:
        return bool(self.status.inhibited_by)

    @property
    def silenced(self) -> bool:
        return bool(self.status.silenced_by)


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    value: str
    is_regex: bool = Field(default=False, serialization_alias="isRegex")
    is_equal: bool = Field(default=True, serialization_alias="isEqual")


class AlertmanagerClient(JsonApiClient):
    service = "alertmanager"

    def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: list[str] | None = None,
    ) -> list[AmAlert]:
        """Alerts Alertmanager holds. ``filters`` are matcher strings like ``alertname="X"``."""
        params: list[tuple[str, str]] = [
            ("active", str(active).lower()),
            ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()),
        ]
        params += [("filter", f) for f in filters or []]
        document = self._json("GET", "/api/v2/alerts", params=params)
        try:
            return [AmAlert.model_validate(alert) for alert in document]
        except (TypeError, ValidationError) as exc:
            raise StackError(f"alertmanager answered an unexpected /api/v2/alerts document: {exc}") from exc

    def healthy(self) -> bool:
        """True when ``/-/ready`` answers 200. Never raises."""
        return self._ready("/-/ready")

    def reload(self) -> None:
        self._request("POST", "/-/reload")

    # -- silences ------------------------------------------------------------
    def create_silence(
        self, matchers: list[Matcher], duration_s: float, created_by: str = "drill-harness", comment: str = ""
    ) -> str:
        """Silence alerts matching every matcher for ``duration_s``; returns the silence id."""
        if not matchers:
            raise StackError("a silence needs at least one matcher")
        start = self.clock.now().astimezone(UTC)
        body = {
            "matchers": [m.model_dump(by_alias=True) for m in matchers],
            "startsAt": start.isoformat(),
            "endsAt": (start + timedelta(seconds=duration_s)).isoformat(),
            "createdBy": created_by,
            "comment": comment or "created by the chaos drill harness",
        }
        document = self._json("POST", "/api/v2/silences", json=body)
        try:
            return str(document["silenceID"])
        except (KeyError, TypeError) as exc:
            raise StackError("alertmanager answered an unexpected silence document") from exc

    def expire_silence(self, silence_id: str) -> None:
        self._request("DELETE", f"/api/v2/silence/{silence_id}")

    def silences(self) -> list[dict[str, Any]]:
        document = self._json("GET", "/api/v2/silences")
        if not isinstance(document, list):
            raise StackError("alertmanager answered an unexpected /api/v2/silences document")
        return document
