"""The fault ledger: an append-only JSONL journal of every fault's life.

A fault is recorded *before* it is injected (kind, params, the stack's run
directory, injected/expiry times, undo data) and again at every state change.
Each record is one complete line written with ``O_APPEND`` and fsync'd, so a
crash can at worst leave a torn last line, which is ignored with a warning.
Folding the journal gives each fault's latest state; :meth:`FaultLedger.active`
lists the faults that may still be in effect. Secrets are never written: the
stack is referenced only by its run directory (``run_dir/stack.json``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import FaultLedgerError
from harness.faults.base import Fault, FaultState
from harness.paths import state_dir

log = logging.getLogger(__name__)

LIVE_STATES = frozenset({FaultState.PENDING, FaultState.ACTIVE, FaultState.FAILED})
"""States in which a fault may still be in effect (failed = inject or revert failed midway)."""


class LedgerRecord(BaseModel):
    """One line of ``faults.jsonl``. The first record of a fault carries everything."""

    model_config = ConfigDict(extra="forbid")

    id: str
    state: FaultState
    at: datetime
    kind: str | None = None
    params: dict[str, Any] | None = None
    run_dir: str | None = None
    backend: str | None = None
    owner_pid: int | None = None
    injected_at: datetime | None = None
    expires_at: datetime | None = None
    undo: dict[str, Any] | None = None
    note: str | None = None


@dataclass
class LedgerEntry:
    """A fault folded from its records."""

    id: str
    kind: str
    params: dict[str, Any]
    run_dir: str
    backend: str
    owner_pid: int | None
    injected_at: datetime
    expires_at: datetime
    state: FaultState
    undo: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class FaultLedger:
    """``FaultLedger(path=None, clock=SYSTEM_CLOCK)``; default path ``state_dir()/faults.jsonl``."""

    def __init__(self, path: Path | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path if path is not None else state_dir() / "faults.jsonl"
        self.clock = clock
        self._lock = threading.Lock()

    # -- writing -------------------------------------------------------------------
    def _append(self, record: LedgerRecord) -> None:
        line = record.model_dump_json(exclude_none=True) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    self._heal_torn_tail(fd)
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(f"short write ({written} of {len(data)} bytes)")
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise FaultLedgerError(f"cannot append to the fault ledger {self.path}: {exc}") from exc

    def _heal_torn_tail(self, fd: int) -> None:
        """If a crash left a line without its newline, start ours on a fresh line."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")

    def record_pending(self, fault: Fault, *, run_dir: Path | str, backend: str) -> LedgerEntry:
        now = self.clock.now()
        record = LedgerRecord(
            id=fault.id, state=FaultState.PENDING, at=now, kind=fault.kind,
            params=fault.params.model_dump(mode="json"), run_dir=str(run_dir), backend=backend,
            owner_pid=os.getpid(),
            injected_at=now, expires_at=now + timedelta(seconds=fault.ttl_seconds), undo=dict(fault.undo),
        )
        self._append(record)
        return _entry_from(record)

    def record(
        self, fault_id: str, state: FaultState, *, undo: dict[str, Any] | None = None, note: str | None = None
    ) -> None:
        self._append(LedgerRecord(id=fault_id, state=state, at=self.clock.now(), undo=undo, note=note))

    # -- reading -------------------------------------------------------------------
    def records(self) -> Iterator[LedgerRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise FaultLedgerError(f"cannot read the fault ledger {self.path}: {exc}") from exc
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield LedgerRecord.model_validate_json(line)
            except ValidationError:
                # a crash mid-write leaves a torn line; later appends start on a fresh line
                where = "last line" if number == len(lines) else "line"
                log.warning("%s:%d: ignoring a torn %s (%d bytes)", self.path, number, where, len(line))

    def entries(self) -> dict[str, LedgerEntry]:
        """Every fault, folded to its latest state (insertion order)."""
        folded: dict[str, LedgerEntry] = {}
        for record in self.records():
            entry = folded.get(record.id)
            if entry is None:
                if record.kind is None:
                    log.warning("%s: state change for unknown fault %s ignored", self.path, record.id)
                    continue
                folded[record.id] = _entry_from(record)
                continue
            entry.state = record.state
            if record.undo:
                entry.undo.update(record.undo)
            if record.note:
                entry.notes.append(record.note)
        return folded

    def active(self) -> list[LedgerEntry]:
        """Faults that may still be in effect, expired ones first (then oldest first)."""
        now = self.clock.now()
        live = [e for e in self.entries().values() if e.state in LIVE_STATES]
        return sorted(live, key=lambda e: (not e.expired(now), e.expires_at, e.injected_at))

    def expired(self) -> list[LedgerEntry]:
        now = self.clock.now()
        return [e for e in self.active() if e.expired(now)]


def _entry_from(record: LedgerRecord) -> LedgerEntry:
    if record.kind is None or record.params is None or record.run_dir is None:
        raise FaultLedgerError(f"the first record of fault {record.id} lacks kind/params/run_dir")
    injected = record.injected_at or record.at
    return LedgerEntry(
        id=record.id, kind=record.kind, params=dict(record.params), run_dir=record.run_dir,
        backend=record.backend or "unknown", owner_pid=record.owner_pid, injected_at=injected,
        expires_at=record.expires_at or injected, state=record.state, undo=dict(record.undo or {}),
        notes=[record.note] if record.note else [],
    )


def dump_entry(entry: LedgerEntry) -> str:
    """One-line JSON of an entry for CLI output."""
    return json.dumps({"id": entry.id, "kind": entry.kind, "state": entry.state.value,
                       "run_dir": entry.run_dir, "expires_at": entry.expires_at.isoformat()})
