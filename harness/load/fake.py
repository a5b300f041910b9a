"""A recording fake of :class:`harness.load.runner.LoadRunner` for unit tests.

It starts no process: the records it "measures" are given up front (or produced
by a callable from the marks), and it summarises them exactly like the real runner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from harness.clock import SYSTEM_CLOCK, Clock
from harness.errors import ServiceControlError
from harness.load.models import LoadSpec, LoadSummary, Phase, PhaseMark, RequestRecord

RecordSource = Sequence[RequestRecord] | Callable[[list[PhaseMark], datetime], Sequence[RequestRecord]]


class FakeLoadRunner:
    """Same methods as ``LoadRunner``; ``calls`` records what was asked of it."""

    def __init__(
        self,
        records: RecordSource = (),
        spec: LoadSpec | None = None,
        base_url: str = "http://127.0.0.1:9",
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.spec = spec or LoadSpec()
        self.base_url = base_url
        self.clock = clock
        self.source = records
        self.marks: list[PhaseMark] = []
        self.calls: list[str] = []
        self._started: datetime | None = None
        self._summary: LoadSummary | None = None

    def start(self, *, wait_for_traffic: bool = True) -> None:
        if self._started is not None:
            raise ServiceControlError("load runner starts once")
        self.calls.append("start")
        self._started = self.clock.now()
        self.marks.append(PhaseMark(name=Phase.BEFORE.value, wall=self._started))

    def mark_phase(self, name: str, at: datetime | None = None) -> PhaseMark:
        self.calls.append(f"mark:{name}")
        existing = next((m for m in self.marks if m.name == name), None)
        if existing is not None:
            return existing
        mark = PhaseMark(name=name, wall=at or self.clock.now())
        self.marks.append(mark)
        return mark

    def running(self) -> bool:
        return self._started is not None and self._summary is None

    def stop(self) -> LoadSummary:
        if self._summary is not None:
            return self._summary
        if self._started is None:
            raise ServiceControlError("load runner was never started")
        self.calls.append("stop")
        stopped = self.clock.now()
        source = self.source
        records = sorted(source(self.marks, stopped) if callable(source) else source, key=lambda r: r.t)
        self._summary = LoadSummary.from_records(
            records, started=self._started, stopped=stopped, marks=self.marks, workers=self.spec.workers
        )
        return self._summary
