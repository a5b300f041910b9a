"""Incident records: one JSON file per incident under ``state_dir()/incidents``.

An incident has a severity, a status and a timeline (opened, notes, resolved),
written atomically after every change. Text goes through the run's redactor.
"""

from __future__ import annotations

import os
import secrets as _random
import tempfile
import threading
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import RunbookError
from harness.paths import state_dir
from harness.runbooks.secrets import Redactor
from harness.severity import Severity, SeverityField


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class IncidentEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ts: datetime
    kind: str
    message: str = ""


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    severity: SeverityField
    status: IncidentStatus = IncidentStatus.OPEN
    runbook: str | None = None
    opened_at: datetime
    resolved_at: datetime | None = None
    timeline: list[IncidentEvent] = Field(default_factory=list)

    @property
    def duration_seconds(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.opened_at).total_seconds()


class IncidentStore:
    def __init__(
        self, directory: Path | None = None, clock: Clock = SYSTEM_CLOCK, redactor: Redactor | None = None
    ) -> None:
        self.directory = directory or state_dir() / "incidents"
        self.clock = clock
        self.redactor = redactor or Redactor()
        self._lock = threading.Lock()

    def open(self, title: str, severity: Severity, runbook: str | None = None, message: str = "") -> Incident:
        now = self.clock.now()
        incident = Incident(
            id=f"INC-{now:%Y%m%d-%H%M%S}-{_random.token_hex(2)}",
            title=self.redactor.redact(title),
            severity=severity,
            runbook=runbook,
            opened_at=now,
            timeline=[IncidentEvent(ts=now, kind="opened", message=self.redactor.redact(message))],
        )
        with self._lock:
            self._write(incident)
        return incident

    def note(self, incident_id: str, message: str, kind: str = "note") -> Incident:
        with self._lock:
            incident = self.get(incident_id)
            incident.timeline.append(
                IncidentEvent(ts=self.clock.now(), kind=kind, message=self.redactor.redact(message))
            )
            self._write(incident)
            return incident

    def resolve(self, incident_id: str, message: str = "") -> Incident:
        with self._lock:
            incident = self.get(incident_id)
            now = self.clock.now()
            incident.status = IncidentStatus.RESOLVED
            incident.resolved_at = now
            incident.timeline.append(
                IncidentEvent(ts=now, kind="resolved", message=self.redactor.redact(message))
            )
            self._write(incident)
            return incident

    def get(self, incident_id: str) -> Incident:
        path = self._path(incident_id)
        try:
            return Incident.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise RunbookError(f"no incident {incident_id!r} in {self.directory}") from exc

    def all(self) -> list[Incident]:
        if not self.directory.is_dir():
            return []
        return sorted(
            (Incident.model_validate_json(p.read_bytes()) for p in self.directory.glob("INC-*.json")),
            key=lambda i: i.opened_at,
        )

    def _path(self, incident_id: str) -> Path:
        if not incident_id.startswith("INC-") or "/" in incident_id or ".." in incident_id:
            raise RunbookError(f"bad incident id {incident_id!r}")
        return self.directory / f"{incident_id}.json"

    def _write(self, incident: Incident) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = incident.model_dump_json(indent=2).encode()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".inc-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(incident.id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
