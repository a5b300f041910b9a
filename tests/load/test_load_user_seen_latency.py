"""User-seen recovery also judges latency when the scenario's SLO has a p95 limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.load.models import RequestRecord
from harness.load.stats import user_seen_recovery

FAULT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def records(slow_until_s: int, total_s: int) -> list[RequestRecord]:
    out = []
    for second in range(total_s):
        for i in range(10):
            t = FAULT.timestamp() + second + i / 10
            ms = 800.0 if second < slow_until_s else 20.0
            out.append(RequestRecord(t=t, name="GET /orders/{id}", method="GET", status=200, ms=ms, ok=True))
    return out


def test_slow_but_successful_requests_are_not_recovered_under_a_latency_slo() -> None:
    recs = records(slow_until_s=8, total_s=20)
    end = FAULT + timedelta(seconds=20)
    # without a latency limit nothing ever failed: users "saw no outage"
    assert user_seen_recovery(recs, FAULT, end, hold_s=3) == FAULT
    # with p95 <= 250 ms, users saw recovery when requests got fast again
    seen = user_seen_recovery(recs, FAULT, end, hold_s=3, max_p95_ms=250)
    assert seen == FAULT + timedelta(seconds=8)
