"""LoadRunner against the real demo target (local stack: Postgres, Redis, target)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.load.audit import find_lost_writes
from harness.load.models import LoadSpec, LoadSummary
from harness.load.runner import LoadRunner
from harness.paths import repo_root
from harness.stack.wait import Predicate, wait_for

pytestmark = pytest.mark.integration

ENDPOINTS = {"POST /orders", "GET /orders/{id}", "GET /catalog"}


def run_phases(runner: LoadRunner, before: float, during: float, after: float) -> LoadSummary:
    try:
        runner.start()
        time.sleep(before)
        runner.mark_phase("during")
        time.sleep(during)
        runner.mark_phase("after")
        time.sleep(after)
    finally:
        summary = runner.stop()
    return summary


def locust_total(summary: LoadSummary) -> int:
    assert summary.output_dir is not None
    entries = json.loads((summary.output_dir / "locust_stats.json").read_text())
    return sum(int(e["num_requests"]) for e in entries)


def test_short_run_gives_per_phase_figures_and_every_write_is_in_postgres(
    target_url: str, pg_dsn: str, tmp_path: Path
) -> None:
    runner = LoadRunner(LoadSpec(users=6, rate_per_user=5.0, max_seconds=120), target_url, tmp_path)
    summary = run_phases(runner, 3.5, 3.0, 3.0)

    assert [p.phase for p in summary.phases] == ["before", "during", "after"]
    for phase in summary.phases:
        assert phase.requests > 0, phase
        assert phase.p50_ms is not None and phase.p95_ms is not None and phase.p99_ms is not None
        assert phase.p50_ms <= phase.p95_ms <= phase.p99_ms
        assert phase.failure_ratio < 0.05, phase
    during = summary.phases[1]
    assert 8.0 <= during.rps <= 45.0  # about 30 req/s asked for; generous on 2 shared cores
    assert set(during.endpoints) <= ENDPOINTS and "POST /orders" in during.endpoints
    assert sum(p.requests for p in summary.phases) == summary.requests

    assert summary.acknowledged_write_ids, "no write was acknowledged"
    assert find_lost_writes(summary.acknowledged_write_ids, pg_dsn) == []
    assert summary.failed_writes == 0

    # Locust's own artefacts are kept, it exited by itself, and its totals agree with ours
    load = tmp_path / "load"
    assert (load / "locust_stats.csv").is_file() and (load / "summary.json").is_file()
    assert summary.exit_codes and all(code is not None for code in summary.exit_codes)
    assert abs(locust_total(summary) - summary.requests) <= max(2, summary.requests // 50)
    assert runner.stop() is summary  # idempotent


def test_failed_writes_are_not_lost_but_a_write_deleted_behind_the_targets_back_is(
    target_url: str, pg_dsn: str, admin: httpx.Client, tmp_path: Path
) -> None:
    runner = LoadRunner(LoadSpec(max_seconds=120), target_url, tmp_path)
    try:
        runner.start()
        time.sleep(2.5)
        runner.mark_phase("during")
        assert admin.put("/admin/flags/read_only", json={"enabled": True}).status_code == 200
        time.sleep(3.0)
        assert admin.put("/admin/flags/read_only", json={"enabled": False}).status_code == 200
        runner.mark_phase("after")
        time.sleep(4.0)
    finally:
        summary = runner.stop()

    assert summary.failed_writes > 0, "read-only mode should have refused writes"
    during = summary.phase("during")
    assert during is not None and during.endpoints["POST /orders"]["failures"] > 0
    acknowledged = summary.acknowledged_write_ids
    assert acknowledged
    assert find_lost_writes(acknowledged, pg_dsn) == []  # refused writes are not lost writes

    impact = summary.impact()
    assert "POST /orders" in impact.affected_endpoints
    fault_at, stopped = summary.mark("during"), summary.stopped
    assert fault_at is not None and impact.window_start is not None and impact.window_end is not None
    assert fault_at <= impact.window_start <= impact.window_end
    recovered = summary.user_seen_recovery(hold_s=2.0)
    after = summary.mark("after")
    assert recovered is not None and after is not None
    assert fault_at < recovered <= min(stopped, after + timedelta(seconds=3))

    victim = acknowledged[len(acknowledged) // 2]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        deleted = conn.execute("DELETE FROM orders WHERE id = %s", (victim,)).rowcount
    assert deleted == 1
    assert find_lost_writes(acknowledged, pg_dsn) == [victim]


def test_distributed_run_with_two_workers_merges_their_records(
    target_url: str, pg_dsn: str, tmp_path: Path
) -> None:
    spec = LoadSpec(users=6, rate_per_user=4.0, workers=2, max_seconds=120)
    runner = LoadRunner(spec, target_url, tmp_path)
    summary = run_phases(runner, 3.0, 3.0, 3.0)

    files = sorted((tmp_path / "load" / "requests").glob("*.jsonl"))
    lines = [len(f.read_text().splitlines()) for f in files]
    assert len(files) == 2 and all(n > 0 for n in lines), lines  # one per worker, both worked
    assert summary.requests == sum(lines)
    assert summary.workers == 2 and len(summary.exit_codes) == 3
    assert all(code is not None for code in summary.exit_codes)
    assert all(p.requests > 0 for p in summary.phases)
    assert summary.acknowledged_write_ids
    assert find_lost_writes(summary.acknowledged_write_ids, pg_dsn) == []
    assert abs(locust_total(summary) - summary.requests) <= max(2, summary.requests // 50)
    for name in ("master", "worker-1", "worker-2"):
        assert (tmp_path / "load" / f"locust-{name}.log").is_file()


ORPHAN = """
    import os, sys, time
    from pathlib import Path
    from harness.load.models import LoadSpec
    from harness.load.runner import LoadRunner
    runner = LoadRunner(LoadSpec(workers=int(sys.argv[3]), max_seconds=300), sys.argv[1], Path(sys.argv[2]))
    runner.start()
    print(" ".join(map(str, runner.pids())), flush=True)
    time.sleep(300)
"""


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie of ours would still answer; locust's parent is the killed harness
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("workers", [0, 2])
def test_locust_stops_when_the_harness_dies(target_url: str, tmp_path: Path, workers: int) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ORPHAN), target_url, str(tmp_path), str(workers)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo_root(),
    )
    pids: list[int] = []
    try:
        assert harness.stdout is not None
        pids = [int(p) for p in harness.stdout.readline().split()]
        assert len(pids) == (1 if workers == 0 else 3)
        time.sleep(1.0)
        harness.send_signal(signal.SIGKILL)
        harness.wait(timeout=10)
        gone = Predicate(lambda: all(pid_gone(p) for p in pids), "every locust process exited")
        wait_for(gone, timeout=40, poll_interval=0.2)
        logs = (tmp_path / "load" / "requests").glob("*.jsonl")
        records = sum(len(f.read_text().splitlines()) for f in logs)
        assert records > 0
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait(timeout=10)
        for pid in pids:
            if not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)


OWN_LOCUSTFILE = """
from locust import HttpUser, constant_throughput, task


class CatalogUser(HttpUser):
    wait_time = constant_throughput(4)

    @task
    def catalog(self):
        self.client.get("/catalog")
"""


def test_a_users_own_locustfile_and_service_get_records_too(target_url: str, tmp_path: Path) -> None:
    mine = tmp_path / "my_service_users.py"
    mine.write_text(OWN_LOCUSTFILE)  # does not import drill_events: the runner loads it
    spec = LoadSpec(profile=str(mine), shape=None, users=2, spawn_rate=2, max_seconds=60)
    summary = run_phases(LoadRunner(spec, target_url, tmp_path / "run"), 2.0, 1.0, 1.0)
    assert summary.requests > 0
    assert {r.endpoint for r in summary.records} == {"GET /catalog"}
    assert summary.acknowledged_write_ids == [] and summary.failed_writes == 0
    assert abs(locust_total(summary) - summary.requests) <= 2  # recorded once, not twice
