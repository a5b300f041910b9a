"""FakeLoadRunner summarises given records like the real runner, on a fake clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from harness.clock import FakeClock
from harness.errors import ServiceControlError
from harness.load.fake import FakeLoadRunner
from harness.load.models import PhaseMark, RequestRecord


def test_fake_runner_splits_records_by_the_marks_it_was_given() -> None:
    clock = FakeClock()

    def traffic(marks: list[PhaseMark], stopped: datetime) -> list[RequestRecord]:
        fault = next(m.wall for m in marks if m.name == "during").timestamp()
        return [
            RequestRecord(t=fault - 1, name="/orders", method="POST", status=201, ms=5, ok=True,
                          write=True, order_id="a"),
            RequestRecord(t=fault + 1, name="/orders", method="POST", status=503, ms=5, ok=False, write=True),
            RequestRecord(t=fault + 11, name="/catalog", method="GET", status=200, ms=5, ok=True),
        ]

    runner = FakeLoadRunner(traffic, clock=clock)
    runner.start()
    clock.advance(1)
    assert runner.mark_phase("before").wall == runner.marks[0].wall  # start() marked it already
    clock.advance(4)
    runner.mark_phase("during")
    clock.advance(10)
    runner.mark_phase("after")
    clock.advance(5)
    summary = runner.stop()
    assert runner.calls == ["start", "mark:before", "mark:during", "mark:after", "stop"]
    assert [m.name for m in summary.marks] == ["before", "during", "after"]
    assert [p.requests for p in summary.phases] == [1, 1, 1]
    assert summary.acknowledged_write_ids == ["a"] and summary.failed_writes == 1
    assert summary.impact().affected_endpoints == ["POST /orders"]
    assert runner.stop() is summary


def test_fake_runner_lifecycle_errors() -> None:
    runner = FakeLoadRunner()
    with pytest.raises(ServiceControlError):
        runner.stop()
    runner.start()
    with pytest.raises(ServiceControlError):
        runner.start()
