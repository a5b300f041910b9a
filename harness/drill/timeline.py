"""The drill timeline: every event with UTC wall time and monotonic time."""

from __future__ import annotations

import threading
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from harness.clock import SYSTEM_CLOCK, Clock

JsonScalar = str | int | float | bool | None


class EventKind(StrEnum):
    DRILL_STARTED = "drill_started"
    STEADY_STATE_OK = "steady_state_ok"
    STEADY_STATE_FAILED = "steady_state_failed"
    LOAD_STARTED = "load_started"
    FAULT_INJECTED = "fault_injected"
    ALERT_PENDING = "alert_pending"
    ALERT_FIRING = "alert_firing"
    NOTIFICATION_FIRING = "notification_firing"
    RUNBOOK_STARTED = "runbook_started"
    RUNBOOK_STEP = "runbook_step"
    RUNBOOK_FINISHED = "runbook_finished"
    RECOVERED = "recovered"
    FAULT_REVERTED = "fault_reverted"
    ALERT_RESOLVED = "alert_resolved"
    NOTIFICATION_RESOLVED = "notification_resolved"
    LOAD_STOPPED = "load_stopped"
    ROLLBACK_VERIFIED = "rollback_verified"
    AUDIT_DONE = "audit_done"
    STOP_CONDITION = "stop_condition"
    ERROR = "error"
    DRILL_FINISHED = "drill_finished"
    NOTE = "note"


class TimelineEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind
    wall: datetime
    mono: float
    detail: str = ""
    data: dict[str, JsonScalar] = Field(default_factory=dict)


class Timeline:
    """Thread-safe, append-only list of events (the receiver thread appends too)."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._events: list[TimelineEvent] = []
        self._lock = threading.Lock()

    def record(self, kind: EventKind, detail: str = "", **data: JsonScalar) -> TimelineEvent:
        event = TimelineEvent(
            kind=kind, wall=self.clock.now(), mono=self.clock.monotonic(), detail=detail, data=data
        )
        with self._lock:
            self._events.append(event)
        return event

    def record_at(
        self, kind: EventKind, wall: datetime, mono: float, detail: str = "", **data: JsonScalar
    ) -> TimelineEvent:
        """Record an event that happened earlier (e.g. a notification's receive time)."""
        event = TimelineEvent(kind=kind, wall=wall, mono=mono, detail=detail, data=data)
        with self._lock:
            self._events.append(event)
        return event

    @property
    def events(self) -> list[TimelineEvent]:
        """All events in the order they happened (monotonic time)."""
        with self._lock:
            return sorted(self._events, key=lambda e: e.mono)

    def first(self, kind: EventKind) -> TimelineEvent | None:
        return next((e for e in self.events if e.kind == kind), None)

    def seconds_between(self, start: EventKind, end: EventKind) -> float | None:
        a, b = self.first(start), self.first(end)
        if a is None or b is None:
            return None
        return round(b.mono - a.mono, 3)
