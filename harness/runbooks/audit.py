"""The append-only, hash-chained audit ledger (JSONL).

Every line is one record ``{"seq", "ts", "event", "payload", "prev_hash", "hash"}``
where ``hash`` is the SHA-256 of the canonical JSON of the record without
``hash`` and ``prev_hash`` is the previous line's ``hash`` (64 zeros for the
first). Editing, deleting or reordering any line, or a torn line, breaks the
chain at a line :func:`verify` names. Deleting lines at the *end* can only be
detected against a head hash kept elsewhere (``verify(path, expect_head=...)``).

Appends take a thread lock and an exclusive ``flock`` on the file and read the
chain head from the file itself, so several threads or processes appending to
one ledger keep one chain. Each append is flushed and fsync'd.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import AuditLedgerError
from harness.paths import state_dir

GENESIS = "0" * 64
_KEYS = ("event", "hash", "payload", "prev_hash", "seq", "ts")
_TAIL_BLOCK = 65536


def default_path() -> Path:
    return state_dir() / "audit.jsonl"


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


class AuditLedger:
    """Append records to one ledger file."""

    def __init__(self, path: Path | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path or default_path()
        self.clock = clock
        self._lock = threading.Lock()

    def append(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Append one record and return it. Raises :class:`AuditLedgerError` if the head is torn."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                seq, prev_hash = _head(fd, self.path)
                record: dict[str, Any] = {
                    "seq": seq + 1,
                    "ts": self.clock.now().isoformat(),
                    "event": event,
                    "payload": payload,
                    "prev_hash": prev_hash,
                }
                record["hash"] = record_hash(record)
                line = canonical(record) + b"\n"
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
                return record
            except TypeError as exc:
                raise AuditLedgerError(f"payload of {event!r} is not JSON-serialisable: {exc}") from exc
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _head(fd: int, path: Path) -> tuple[int, str]:
    """(seq, hash) of the last record, read from the end of the file."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0:
        return 0, GENESIS
    data = b""
    offset = size
    while offset > 0:
        step = min(_TAIL_BLOCK, offset)
        offset -= step
        data = os.pread(fd, step, offset) + data
        if data.count(b"\n") >= 2 or (offset == 0):
            break
    if not data.endswith(b"\n"):
        raise AuditLedgerError(f"{path}: the last line is torn (no newline); run 'drillctl ledger verify'")
    last = data[:-1].rsplit(b"\n", 1)[-1]
    try:
        record = json.loads(last)
        return int(record["seq"]), str(record["hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditLedgerError(f"{path}: the last line is unreadable; run 'drillctl ledger verify'") from exc


@dataclass
class LedgerProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class VerifyReport:
    path: Path
    records: int = 0
    head_hash: str = GENESIS
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            first = self.problems[0]
            raise AuditLedgerError(f"{self.path}: {first.message}", line=first.line)


def verify(path: Path | None = None, expect_head: str | None = None) -> VerifyReport:
    """Check every line of the ledger; report every problem with its 1-based line number.

    Raises :class:`AuditLedgerError` only when the file cannot be read at all.
    """
    path = path or default_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditLedgerError(f"cannot read audit ledger {path}: {exc}") from exc
    report = VerifyReport(path=path)
    lines = raw.split(b"\n")
    torn_tail = lines[-1] != b""
    if not torn_tail:
        lines = lines[:-1]
    prev_seq, prev_hash = 0, GENESIS
    for number, line in enumerate(lines, start=1):
        if torn_tail and number == len(lines):
            report.problems.append(LedgerProblem(number, "torn line (no trailing newline)"))
            break
        try:
            record = json.loads(line)
        except ValueError:
            report.problems.append(LedgerProblem(number, "not valid JSON (edited or torn)"))
            prev_seq += 1
            continue
        if not isinstance(record, dict) or tuple(sorted(record)) != _KEYS:
            report.problems.append(LedgerProblem(number, "not an audit record (wrong keys)"))
            prev_seq += 1
            continue
        if record["hash"] != record_hash(record):
            report.problems.append(LedgerProblem(number, "hash mismatch: the record was edited"))
        if record["seq"] != prev_seq + 1:
            report.problems.append(
                LedgerProblem(
                    number,
                    f"sequence {record['seq']} follows {prev_seq}: a record was deleted, inserted or moved",
                )
            )
        elif record["prev_hash"] != prev_hash:
            report.problems.append(
                LedgerProblem(number, "prev_hash does not match the previous record: the chain is broken")
            )
        prev_seq = record["seq"] if isinstance(record["seq"], int) else prev_seq + 1
        prev_hash = str(record["hash"])
        report.records += 1
    report.head_hash = prev_hash
    if expect_head is not None and report.ok and prev_hash != expect_head:
        report.problems.append(
            LedgerProblem(len(lines), "the head hash differs from the expected one: records were removed")
        )
    return report
