"""Per-phase statistics, user-seen recovery and impact on synthetic records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.load import stats
from harness.load.models import LoadSummary, PhaseMark, RequestRecord

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def rec(
    offset: float,
    ok: bool = True,
    ms: float = 10.0,
    name: str = "/catalog",
    method: str = "GET",
    write: bool = False,
    order_id: str | None = None,
) -> RequestRecord:
    return RequestRecord(
        t=T0.timestamp() + offset,
        name=name,
        method=method,
        status=200 if ok else 503,
        ms=ms,
        ok=ok,
        write=write,
        order_id=order_id,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def marks(*pairs: tuple[str, float]) -> list[PhaseMark]:
    return [PhaseMark(name=name, wall=at(offset)) for name, offset in pairs]


def steady(start: float, end: float, per_second: int, fail_every: int = 0) -> list[RequestRecord]:
    """``per_second`` requests a second; every ``fail_every``-th one fails (0: none)."""
    out = []
    n = 0
    step = 1.0 / per_second
    t = start
    while t < end - 1e-9:
        n += 1
        out.append(rec(t, ok=not (fail_every and n % fail_every == 0)))
        t += step
    return out


class TestPercentile:
    def test_interpolates_between_ranks(self) -> None:
        values = [float(v) for v in range(1, 101)]  # 1..100
        assert stats.percentile(values, 50) == pytest.approx(50.5)
        assert stats.percentile(values, 95) == pytest.approx(95.05)
        assert stats.percentile(values, 99) == pytest.approx(99.01)
        assert stats.percentile(values, 0) == 1.0
        assert stats.percentile(values, 100) == 100.0

    def test_order_does_not_matter_and_single_value(self) -> None:
        assert stats.percentile([30.0, 10.0, 20.0], 50) == 20.0
        assert stats.percentile([7.0], 99) == 7.0

    def test_empty_and_out_of_range(self) -> None:
        assert stats.percentile([], 50) is None
        with pytest.raises(ValueError):
            stats.percentile([1.0], 101)


class TestPhases:
    def test_records_land_in_the_phase_they_started_in(self) -> None:
        records = [rec(0.5), rec(1.5), rec(9.99), rec(10.0, ok=False), rec(14.0), rec(20.0), rec(29.0)]
        phases = stats.split_phases(records, marks(("before", 0), ("during", 10), ("after", 20)), at(30))
        assert [p.phase for p in phases] == ["before", "during", "after"]
        assert [p.requests for p in phases] == [3, 2, 2]
        assert [p.failures for p in phases] == [0, 1, 0]
        assert phases[1].failure_ratio == pytest.approx(0.5)
        assert phases[0].rps == pytest.approx(3 / 10)

    def test_records_outside_the_marks_are_clamped_to_first_and_last_phase(self) -> None:
        records = [rec(-1.0), rec(5.0), rec(31.0)]  # before load start, in flight at stop
        phases = stats.split_phases(records, marks(("before", 0), ("during", 2)), at(30))
        assert [p.requests for p in phases] == [1, 2]

    def test_marks_given_out_of_order_are_sorted(self) -> None:
        phases = stats.split_phases([rec(1.0)], marks(("during", 5), ("before", 0)), at(10))
        assert [p.phase for p in phases] == ["before", "during"]
        assert phases[0].requests == 1

    def test_percentiles_and_endpoints(self) -> None:
        records = [rec(i * 0.1, ms=float(i + 1)) for i in range(100)]
        records += [rec(5.0, ok=False, ms=500.0, name="/orders", method="POST", write=True)]
        (phase,) = stats.split_phases(records, marks(("before", 0)), at(10))
        assert phase.requests == 101
        assert phase.p50_ms == pytest.approx(51.0)
        assert phase.p99_ms is not None and phase.p99_ms > 99.0
        assert set(phase.endpoints) == {"GET /catalog", "POST /orders"}
        orders = phase.endpoints["POST /orders"]
        assert orders["requests"] == 1 and orders["failures"] == 1 and orders["failure_ratio"] == 1.0
        assert phase.endpoints["GET /catalog"]["p95_ms"] == pytest.approx(95.05)

    def test_empty_phase_has_no_percentiles(self) -> None:
        (phase,) = stats.split_phases([], marks(("before", 0)), at(10))
        assert phase.requests == 0 and phase.p95_ms is None and phase.rps == 0.0 and phase.endpoints == {}

    def test_a_phase_marked_twice_keeps_its_first_mark(self) -> None:
        records = [rec(1.0), rec(3.0), rec(6.0)]
        phases = stats.split_phases(records, marks(("before", 0), ("before", 2), ("during", 5)), at(10))
        assert [(p.phase, p.requests) for p in phases] == [("before", 2), ("during", 1)]

    def test_no_marks_no_phases(self) -> None:
        assert stats.split_phases([rec(1.0)], [], at(10)) == []


class TestWrites:
    def test_failed_write_is_counted_apart_and_never_acknowledged(self) -> None:
        records = [
            rec(1.0, name="/orders", method="POST", write=True, order_id="a"),
            rec(2.0, ok=False, name="/orders", method="POST", write=True),
            rec(3.0, name="/orders", method="POST", write=True, order_id="b"),
            rec(3.5, name="/orders", method="POST", write=True, order_id="a"),  # duplicate id
            rec(4.0, name="/orders", method="POST", write=True),  # ok but no id: not acknowledged
            rec(5.0),
        ]
        assert stats.acknowledged_ids(records) == ["a", "b"]
        assert stats.failed_writes(records) == 2


class TestUserSeenRecovery:
    def test_recovery_is_the_start_of_the_first_healthy_hold(self) -> None:
        records = steady(0, 3, 10) + steady(3, 8, 10, fail_every=2) + steady(8, 30, 10)
        got = stats.user_seen_recovery(records, at(0), at(30), bucket_s=1.0, threshold=0.05, hold_s=5)
        assert got == at(8)

    def test_a_short_healthy_blip_does_not_count(self) -> None:
        records = (
            steady(0, 4, 10, fail_every=1)
            + steady(4, 6, 10)  # 2 s healthy: shorter than the hold
            + steady(6, 10, 10, fail_every=2)
            + steady(10, 20, 10)
        )
        got = stats.user_seen_recovery(records, at(0), at(20), hold_s=3)
        assert got == at(10)

    def test_no_user_visible_outage_means_recovered_at_the_fault(self) -> None:
        records = steady(0, 20, 10)
        assert stats.user_seen_recovery(records, at(0), at(20)) == at(0)

    def test_never_recovered(self) -> None:
        records = steady(0, 10, 10, fail_every=2) + steady(10, 12, 10)
        assert stats.user_seen_recovery(records, at(0), at(12), hold_s=5) is None

    def test_empty_buckets_are_not_healthy(self) -> None:
        # users stuck (no request started) from 2 s to 6 s
        records = steady(0, 1, 10, fail_every=1) + steady(6, 20, 10)
        got = stats.user_seen_recovery(records, at(0), at(20), hold_s=3)
        assert got == at(6)

    def test_threshold_is_strict(self) -> None:
        records = steady(0, 2, 10, fail_every=1) + steady(2, 20, 10, fail_every=10)  # 10 % failures
        assert stats.user_seen_recovery(records, at(0), at(20), threshold=0.10, hold_s=3) is None
        assert stats.user_seen_recovery(records, at(0), at(20), threshold=0.11, hold_s=3) == at(2)

    def test_requests_before_the_fault_are_ignored(self) -> None:
        records = steady(0, 5, 10, fail_every=1) + steady(5, 20, 10)
        assert stats.user_seen_recovery(records, at(5), at(20)) == at(5)

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError):
            stats.user_seen_recovery([], at(0), at(1), bucket_s=0)


class TestImpact:
    def test_window_runs_from_first_to_end_of_last_failure(self) -> None:
        records = [
            rec(1.0, ok=False),  # before the fault: not the incident's
            rec(10.0),
            rec(11.0, ok=False, name="/orders", method="POST", write=True),
            rec(12.0, ok=False, ms=250.0, name="/orders/{id}"),
            rec(15.0),
        ]
        impact = stats.impact(records, at(10), at(20))
        assert impact.requests_failed == 2
        assert impact.requests_total == 4
        assert impact.affected_endpoints == ["GET /orders/{id}", "POST /orders"]
        assert impact.window_start == at(11)
        assert impact.window_end == at(12.25)

    def test_no_failures(self) -> None:
        impact = stats.impact([rec(11.0)], at(10), at(20))
        assert impact.requests_failed == 0 and impact.requests_total == 1
        assert impact.window_start is None and impact.affected_endpoints == []


class TestSummary:
    def summary(self, records: list[RequestRecord], mark_list: list[PhaseMark]) -> LoadSummary:
        return LoadSummary(
            started=at(0),
            stopped=at(30),
            marks=mark_list,
            phases=stats.split_phases(records, mark_list, at(30)),
            acknowledged_write_ids=stats.acknowledged_ids(records),
            failed_writes=stats.failed_writes(records),
            records=records,
        )

    def test_helpers_default_to_the_during_mark(self) -> None:
        records = steady(0, 10, 10, fail_every=1) + steady(10, 15, 10, fail_every=2) + steady(15, 30, 10)
        summary = self.summary(records, marks(("before", 0), ("during", 10), ("after", 14)))
        assert summary.mark("during") == at(10)
        assert summary.user_seen_recovery(hold_s=5) == at(15)
        impact = summary.impact()
        assert impact.requests_failed == 25  # the failures before the fault are not counted
        assert impact.window_start is not None
        assert impact.window_start.timestamp() == pytest.approx(at(10.1).timestamp())  # 2nd request
        phase = summary.phase("during")
        assert phase is not None and phase.failures == 20

    def test_without_a_fault_mark(self) -> None:
        summary = self.summary(steady(0, 5, 10), marks(("before", 0)))
        assert summary.user_seen_recovery() is None
        assert summary.impact().requests_failed == 0
        assert summary.requests == 50
