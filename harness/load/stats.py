"""Per-phase statistics computed from per-request records.

Pure functions over :class:`harness.load.models.RequestRecord` lists, so they are
tested on synthetic records. A record belongs to the phase in which it *started*.
Percentiles interpolate linearly between closest ranks (numpy's default).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from harness.drill.results import Impact, PhaseLoad

if TYPE_CHECKING:
    from harness.load.models import PhaseMark, RequestRecord


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _figures(records: Sequence[RequestRecord], duration_s: float) -> dict[str, float]:
    failures = sum(1 for r in records if not r.ok)
    latencies = [r.ms for r in records]
    out: dict[str, float] = {
        "requests": float(len(records)),
        "failures": float(failures),
        "failure_ratio": failures / len(records) if records else 0.0,
        "rps": len(records) / duration_s if duration_s > 0 else 0.0,
    }
    for key, q in (("p50_ms", 50.0), ("p95_ms", 95.0), ("p99_ms", 99.0)):
        value = percentile(latencies, q)
        if value is not None:
            out[key] = round(value, 3)
    return out


def phase_load(name: str, records: Sequence[RequestRecord], duration_s: float) -> PhaseLoad:
    """Figures of one phase, overall and per endpoint (``"METHOD name"``)."""
    overall = _figures(records, duration_s)
    by_endpoint: dict[str, list[RequestRecord]] = defaultdict(list)
    for record in records:
        by_endpoint[record.endpoint].append(record)
    return PhaseLoad(
        phase=name,
        requests=len(records),
        failures=int(overall["failures"]),
        failure_ratio=overall["failure_ratio"],
        rps=overall["rps"],
        p50_ms=overall.get("p50_ms"),
        p95_ms=overall.get("p95_ms"),
        p99_ms=overall.get("p99_ms"),
        endpoints={key: _figures(recs, duration_s) for key, recs in sorted(by_endpoint.items())},
    )


def split_phases(
    records: Sequence[RequestRecord], marks: Sequence[PhaseMark], end: datetime
) -> list[PhaseLoad]:
    """One :class:`PhaseLoad` per mark; a phase runs from its mark to the next one (the last to ``end``).

    Records started before the first mark count in the first phase, records started
    after ``end`` (in flight while Locust stopped) in the last one. A name marked twice
    keeps its first mark.
    """
    first: dict[str, PhaseMark] = {}
    for mark in sorted(marks, key=lambda m: m.wall):
        first.setdefault(mark.name, mark)
    if not first:
        return []
    ordered = list(first.values())
    bounds = [m.wall.timestamp() for m in ordered] + [max(end.timestamp(), ordered[-1].wall.timestamp())]
    buckets: list[list[RequestRecord]] = [[] for _ in ordered]
    for record in records:
        index = 0
        while index + 1 < len(ordered) and record.t >= bounds[index + 1]:
            index += 1
        buckets[index].append(record)
    return [phase_load(mark.name, buckets[i], bounds[i + 1] - bounds[i]) for i, mark in enumerate(ordered)]


def acknowledged_ids(records: Iterable[RequestRecord]) -> list[str]:
    """Ids of acknowledged writes, in acknowledgement order, without duplicates."""
    seen: dict[str, None] = {}
    for record in records:
        if record.write and record.ok and record.order_id:
            seen.setdefault(record.order_id, None)
    return list(seen)


def failed_writes(records: Iterable[RequestRecord]) -> int:
    """Writes the target did not acknowledge. The client knows they failed: not lost writes."""
    return sum(1 for r in records if r.write and not (r.ok and r.order_id))


def _within(records: Iterable[RequestRecord], start: float, end: float) -> list[RequestRecord]:
    return [r for r in records if start <= r.t <= end]


def user_seen_recovery(
    records: Sequence[RequestRecord],
    fault_at: datetime,
    end: datetime,
    *,
    bucket_s: float = 1.0,
    threshold: float = 0.05,
    hold_s: float = 5.0,
    max_p95_ms: float | None = None,
) -> datetime | None:
    """Recovery as users saw it.

    Requests started between ``fault_at`` and ``end`` go into ``bucket_s`` buckets. A
    bucket is healthy when it holds requests and its failure ratio is under
    ``threshold`` and, with ``max_p95_ms``, its p95 latency is at most that (an empty
    bucket means users were stuck, not served). The search
    starts at the first unhealthy bucket; the answer is the start of the first run of
    healthy buckets lasting ``hold_s``. If no bucket was ever unhealthy, users saw no
    outage and the answer is ``fault_at``. None when users never saw recovery.
    """
    if bucket_s <= 0 or hold_s < 0:
        raise ValueError("bucket_s must be > 0 and hold_s >= 0")
    start, stop = fault_at.timestamp(), end.timestamp()
    count = max(0, math.floor((stop - start) / bucket_s))
    totals, fails = [0] * count, [0] * count
    latencies: list[list[float]] = [[] for _ in range(count)]
    for record in _within(records, start, stop):
        index = int((record.t - start) // bucket_s)
        if index < count:
            totals[index] += 1
            fails[index] += 0 if record.ok else 1
            latencies[index].append(record.ms)

    def fast(i: int) -> bool:
        return max_p95_ms is None or (percentile(latencies[i], 95) or 0.0) <= max_p95_ms

    healthy = [totals[i] > 0 and fails[i] / totals[i] < threshold and fast(i) for i in range(count)]
    first_bad = next((i for i, ok in enumerate(healthy) if not ok), None)
    if first_bad is None:
        return fault_at
    need = max(1, math.ceil(hold_s / bucket_s))
    run = 0
    for index in range(first_bad, count):
        run = run + 1 if healthy[index] else 0
        if run == need:
            return datetime.fromtimestamp(start + (index - need + 1) * bucket_s, tz=UTC)
    return None


def impact(records: Sequence[RequestRecord], since: datetime, until: datetime) -> Impact:
    """Requests failed between ``since`` and ``until``, the endpoints hit, and the window
    from the start of the first failed request to the end of the last one."""
    window = _within(records, since.timestamp(), until.timestamp())
    failed = [r for r in window if not r.ok]
    if not failed:
        return Impact(requests_failed=0, requests_total=len(window))
    return Impact(
        requests_failed=len(failed),
        requests_total=len(window),
        affected_endpoints=sorted({r.endpoint for r in failed}),
        window_start=datetime.fromtimestamp(min(r.t for r in failed), tz=UTC),
        window_end=datetime.fromtimestamp(max(r.end for r in failed), tz=UTC),
    )
